"""What a node tells the dispatcher about its features before modeling (5.3.2d).

A feature table made by ``medfed.data`` carries an ``extractors`` entry: the signature of
every extractor that computed its columns (``name/vVERSION/sha256:PARAMS``). The node
reports those signatures when it joins; the dispatcher refuses to start the study when the
parties' signatures differ. A data file without the entry (images) reports nothing.
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from medfed.core import serde
from medfed.core.messages import Ack, NodeHello
from medfed.errors import DataIntegrityError
from medfed.node.runner import NodeChannel

log = logging.getLogger("medfed.node")

EXTRACTORS_KEY = "extractors"


def _signature(item: Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("signature"), str):
        return str(item["signature"])  # a full declaration (Extractor.describe())
    if isinstance(item, str):
        return item
    raise DataIntegrityError(f"extractor entry {item!r} is neither a signature nor a declaration")


def _from_text(text: str) -> list[str]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        return [text]  # one bare signature
    if isinstance(raw, dict):
        raw = raw.get("signatures", raw.get("extractors", [raw]))
    if not isinstance(raw, list):
        raw = [raw]
    return [_signature(item) for item in raw]


def read_extractor_signatures(path: str | Path) -> list[str]:
    """The extractor signatures stored in the data file at ``path``, in column order ([] if none).

    Accepts the entry as an array of signatures, or as JSON text (a list of signatures or of
    extractor declarations); DataIntegrityError if it is there but unreadable.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if EXTRACTORS_KEY not in data.files:
                return []
            entry = data[EXTRACTORS_KEY]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataIntegrityError(f"{path}: cannot read its {EXTRACTORS_KEY} entry: {exc}") from None
    if entry.dtype.kind not in "US":
        raise DataIntegrityError(f"{path}: {EXTRACTORS_KEY} must hold text, not {entry.dtype}")
    if entry.ndim == 0:
        return [s for s in _from_text(str(entry)) if s]
    return [str(s) for s in entry.reshape(-1) if str(s)]


def announce(channel: NodeChannel, study_id: str, node: str, signatures: list[str]) -> None:
    """Report the extractor signatures before joining (nothing is sent when there are none)."""
    if not signatures:
        return
    ack = serde.decode(channel.submit(serde.encode(NodeHello(study_id, node, {"signatures": signatures}))))
    if isinstance(ack, Ack) and not ack.accepted:
        # A dispatcher that does not check extractors: say so, and take part anyway.
        log.warning("the dispatcher did not take our extractor signatures: %s", ack.message)
    else:
        log.info("%s reported %d feature extractor signature(s)", node, len(signatures))
