"""Pay torch's one-time lazy costs when a node starts, not inside its first round."""

from __future__ import annotations

import torch


def warm_up() -> None:
    """Import the optimizer machinery now.

    Constructing the first torch optimizer imports ``torch._dynamo`` (about 2 s of CPU);
    a long-running node pays that once at start-up instead of stretching round 1.
    """
    torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
