"""One error hierarchy for medfed.

    MedfedError
    ├── ConfigError            a study file, kit or option is invalid
    ├── DataError              data cannot be used
    │   ├── DataUnavailableError   the file is absent and cannot be downloaded
    │   └── DataIntegrityError     the file exists but its checksum or content is wrong
    ├── ModelError             unknown model name, or parameters that do not fit the model
    ├── UpdateRejectedError    an update from a node failed validation (shape, dtype, NaN/Inf)
    ├── ProtocolError          a message is malformed or arrives out of order
    ├── IdentityError          a certificate or kit is invalid, expired or of the wrong role
    ├── TransportError         a peer cannot be reached or refused the connection
    ├── HEError                a homomorphic-encryption operation cannot be done
    └── StudyFailedError       the study could not finish (too few nodes, round failed)

Errors that cross processes travel as coded values (``code`` attribute) inside replies;
``from_code`` rebuilds the matching class on the other side.
"""

from __future__ import annotations


class MedfedError(Exception):
    """Base of every error medfed raises on purpose."""

    code = "medfed"


class ConfigError(MedfedError):
    code = "config"


class DataError(MedfedError):
    code = "data"


class DataUnavailableError(DataError):
    code = "data_unavailable"


class DataIntegrityError(DataError):
    code = "data_integrity"


class ModelError(MedfedError):
    code = "model"


class UpdateRejectedError(MedfedError):
    code = "update_rejected"


class ProtocolError(MedfedError):
    code = "protocol"


class IdentityError(MedfedError):
    code = "identity"


class TransportError(MedfedError):
    code = "transport"


class StudyFailedError(MedfedError):
    code = "study_failed"


class HEError(MedfedError):
    """Wrong key, exhausted depth, overflow or malformed ciphertext: one opaque message per
    recipe, so nothing hints at why a check failed."""

    code = "he"


_BY_CODE: dict[str, type[MedfedError]] = {
    cls.code: cls
    for cls in (
        MedfedError,
        ConfigError,
        DataError,
        DataUnavailableError,
        DataIntegrityError,
        ModelError,
        UpdateRejectedError,
        ProtocolError,
        IdentityError,
        TransportError,
        HEError,
        StudyFailedError,
    )
}


def from_code(code: str, message: str) -> MedfedError:
    """Rebuild an error that travelled as ``(code, message)``."""
    return _BY_CODE.get(code, MedfedError)(message)
