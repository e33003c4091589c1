"""Constants and small test doubles shared by the authentication tests."""

from __future__ import annotations

from medfed.authn import Audit

STUDY = "study-1"
NOW = 1_700_000_000.0  # a fixed clock: every protocol takes ``now`` from its caller


class Recorder:
    """Collects the refusal dicts an :class:`Audit` hands to ``on_refusal``."""

    def __init__(self) -> None:
        self.refusals: list[dict[str, object]] = []
        self.audit = Audit(self.refusals.append)

    @property
    def reasons(self) -> list[str]:
        return [str(r["reason"]) for r in self.refusals]

    @property
    def last(self) -> dict[str, object]:
        assert self.refusals, "nothing was refused"
        return self.refusals[-1]
