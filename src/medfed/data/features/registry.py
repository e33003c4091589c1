"""Extractors by name, and the check that every party uses the same ones (5.3.2d).

``build_extractor("glcm", levels=32)`` gives the same extractor, hence the same signature,
at every hospital; modeling starts only after ``check_same_extractors`` passes on the
signatures the parties report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from medfed.data.features.base import Extractor, params_digest
from medfed.data.features.first_order import FirstOrder
from medfed.data.features.shape import ShapeFeatures
from medfed.data.features.texture import GLCMTexture, GLRLMTexture
from medfed.errors import ConfigError, DataError

__all__ = [
    "EXTRACTOR_NAMES",
    "build_extractor",
    "check_same_extractors",
    "pipeline_signature",
    "signatures_digest",
]


def _embedding(**params: Any) -> Extractor:
    from medfed.data.features.embedding import build_cnn_embedding  # torch only when asked

    return build_cnn_embedding(**params)


def _tuples(factory: Callable[..., Extractor]) -> Callable[..., Extractor]:
    """Accept lists where the extractor wants tuples (parameters read from JSON)."""

    def build(**params: Any) -> Extractor:
        return factory(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})

    return build


_FACTORIES: dict[str, Callable[..., Extractor]] = {
    FirstOrder.name: _tuples(FirstOrder),
    GLCMTexture.name: _tuples(GLCMTexture),
    GLRLMTexture.name: _tuples(GLRLMTexture),
    ShapeFeatures.name: _tuples(ShapeFeatures),
    "cnn_embedding": _embedding,
}
EXTRACTOR_NAMES = tuple(sorted(_FACTORIES))


def build_extractor(name: str, **params: Any) -> Extractor:
    """The extractor ``name`` with ``params`` (keyword arguments of its class)."""
    if name not in _FACTORIES:
        raise ConfigError(
            f"unknown feature extractor {name!r}; available: {', '.join(EXTRACTOR_NAMES)}"
        )
    try:
        return _FACTORIES[name](**params)
    except TypeError as exc:  # unknown keyword: say which extractor refused it
        raise ConfigError(f"bad parameters for extractor {name!r}: {exc}") from exc


def pipeline_signature(extractors: Sequence[Extractor]) -> str:
    """One signature for an ordered list of extractors (column order matters)."""
    return signatures_digest([e.signature() for e in extractors])


def signatures_digest(signatures: Sequence[str]) -> str:
    """``pipeline_signature`` of the extractors whose signatures are ``signatures`` (as a
    data file records them), so parties can be compared with one string each."""
    return f"pipeline/v1/sha256:{params_digest({'extractors': list(signatures)})}"


def _explain(reference: str, other: str) -> str:
    ref, oth = reference.split("/"), other.split("/")
    if len(ref) == 3 and len(oth) == 3:
        if ref[0] != oth[0]:
            return f"different extractor ({oth[0]} instead of {ref[0]})"
        if ref[1] != oth[1]:
            return f"different version ({oth[1]} instead of {ref[1]})"
        return "same extractor and version, different parameters"
    return "different signature"


def check_same_extractors(signatures: Mapping[str, str]) -> str:
    """The common signature of all parties, or DataError naming the parties that differ.

    The reference is the signature most parties report (ties: the first party's); every
    other group of parties is listed with what differs (extractor, version or parameters).
    """
    if not signatures:
        raise DataError("no party reported a feature-extractor signature")
    groups: dict[str, list[str]] = {}
    for party, signature in signatures.items():
        groups.setdefault(signature, []).append(party)
    if len(groups) == 1:
        return next(iter(groups))
    reference = max(groups, key=lambda s: len(groups[s]))  # first of the largest, dicts keep order
    lines = [
        f"parties {', '.join(sorted(parties))}: {_explain(reference, sig)} [{sig}]"
        for sig, parties in groups.items()
        if sig != reference
    ]
    differing = sorted(p for sig, ps in groups.items() if sig != reference for p in ps)
    raise DataError(
        f"feature extractors differ between parties (5.3.2d: the same features must be "
        f"extracted from every image); differing: {', '.join(differing)}. Reference "
        f"{reference} at {', '.join(sorted(groups[reference]))}; "
        + "; ".join(lines)
        + ". Fix: rebuild the differing parties' extractors from the study's declaration."
    )
