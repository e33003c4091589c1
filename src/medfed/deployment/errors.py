"""Errors of the deployment stage (subclasses of the one hierarchy in ``medfed.errors``)."""

from __future__ import annotations

from medfed.errors import ConfigError, IdentityError, ModelError


class RunFolderError(ConfigError):
    """The run folder is missing, or lacks the trained model or its results.json."""

    code = "run_folder"


class ExportError(ModelError):
    """The model cannot be converted, optimised or quantized as asked."""

    code = "export"


class SignerKitError(IdentityError):
    """The kit given to sign a bundle is not the result party's of this study."""

    code = "signer_kit"
