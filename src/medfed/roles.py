"""The parties of the standard (clause map, section 3): the vocabulary every layer shares."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    INITIATOR = "initiator"
    DISPATCHER = "dispatcher"
    ALGORITHM = "algorithm"
    DATA = "data"
    COMPUTE = "compute"
    AUX = "aux"
    RESULT = "result"
    CA = "ca"
    NOTARY = "notary"
