from __future__ import annotations

import medfed.provision


def test_public_api_is_exactly_this() -> None:
    assert medfed.provision.__all__ == ["provision_study"]
