"""De-identification of DICOM at the hospital (standard 5.2c, 5.6a).

PS3.15 Annex E Basic Application Level Confidentiality Profile, with consistent UID
replacement, per-patient date shifting and a study-local pseudonym derived from a
per-dataset secret, and a verifier that refuses anything still identifying::

    options = DeidOptions(key=DeidKey(secrets.token_bytes(32)))
    result = deidentify(pydicom.dcmread(path), options)
    verify_deidentified(result.dataset, result.originals)   # DataError if anything remains
    report = deidentify_folder(source_dir, target_dir, options)
"""

from __future__ import annotations

from medfed.data.deid.actions import ACTIONS, Action
from medfed.data.deid.folder import FolderReport, deidentify_folder
from medfed.data.deid.identifiers import Identifiers, collect_identifiers
from medfed.data.deid.keys import DeidKey
from medfed.data.deid.profile import BurnedIn, DeidOptions, DeidResult, deidentify
from medfed.data.deid.verify import (
    Finding,
    FindingKind,
    VerificationReport,
    find_residual_identifiers,
    verify_deidentified,
)

__all__ = [
    "ACTIONS",
    "Action",
    "BurnedIn",
    "DeidKey",
    "DeidOptions",
    "DeidResult",
    "Finding",
    "FindingKind",
    "FolderReport",
    "Identifiers",
    "VerificationReport",
    "collect_identifiers",
    "deidentify",
    "deidentify_folder",
    "find_residual_identifiers",
    "verify_deidentified",
]
