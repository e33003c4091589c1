"""Every party must extract the same features before modeling starts (5.3.2d).

A node whose data file is a feature table reports the signature of each extractor that made
it (``name/vVERSION/sha256:PARAMS``, in column order). The dispatcher compares them between
the parties of a round and refuses to start when they differ, naming each differing party
and extractor. Parties training on images report none; a study where none reports passes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from medfed.errors import DataError


def _name(signature: str) -> str:
    return signature.split("/", 1)[0]


def _why(reference: str, other: str) -> str:
    ref, oth = reference.split("/"), other.split("/")
    if len(ref) == 3 and len(oth) == 3 and ref[1] != oth[1]:
        return f"version {oth[1]} instead of {ref[1]}"
    return f"other parameters ({other} instead of {reference})"


def explain(reference: Sequence[str], reported: Sequence[str]) -> list[str]:
    """What differs in ``reported`` from ``reference``, one phrase per extractor."""
    ref = {_name(s): s for s in reference}
    own = {_name(s): s for s in reported}
    problems = [f"no {name} extractor" for name in ref if name not in own]
    problems += [f"extractor {name} that the others do not use" for name in own if name not in ref]
    problems += [f"extractor {name}: {_why(ref[name], own[name])}" for name in ref if name in own and ref[name] != own[name]]
    if not problems and list(reference) != list(reported):
        problems.append(f"the same extractors in another column order ({', '.join(map(_name, reported))})")
    return problems


class ExtractorCheck:
    """Collects each party's reported signatures; :meth:`check` compares a set of parties."""

    def __init__(self) -> None:
        self.reported: dict[str, tuple[str, ...]] = {}
        self.suspects: list[str] = []

    def report(self, node: str, signatures: Iterable[str]) -> None:
        self.reported[node] = tuple(str(s) for s in signatures)

    def check(self, nodes: Iterable[str]) -> None:
        """Return if ``nodes`` report identical extractors; DataError naming who differs and how."""
        parties = sorted(nodes)
        pipelines = {node: self.reported.get(node, ()) for node in parties}
        self.suspects = []
        if not any(pipelines.values()):
            return
        counts = Counter(pipelines.values())
        # The reference is what most parties report; ties go to the first party by name.
        reference = max(counts, key=lambda p: (counts[p], -parties.index(next(n for n in parties if pipelines[n] == p))))
        holders = [n for n in parties if pipelines[n] == reference]
        details = []
        for node in parties:
            if pipelines[node] != reference:
                self.suspects.append(node)
                details.append(f"{node} has " + "; ".join(explain(reference, pipelines[node])))
        if not details:
            return
        raise DataError(
            "feature extractors differ between parties (5.3.2d: every party must extract the same "
            f"features): {'. '.join(details)}. Reference, at {', '.join(holders)}: "
            f"{', '.join(reference) or 'no extractors'}. Fix: rebuild the differing parties' feature "
            "tables with the study's declared extractors."
        )
