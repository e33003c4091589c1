"""A node keeps reconnecting, with backoff, while the dispatcher is away (bounded by connect_timeout)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from medfed.core.messages import StudyEnd
from medfed.errors import IdentityError, TransportError
from medfed.node.process import stay_connected


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _script(clock: FakeClock, outcomes: list[tuple[float, bool, object]]) -> Callable:
    """Each call: spend ``seconds``, say whether it joined, then return or raise ``result``."""
    calls: list[float] = []

    def session(timeout: float, joined: Callable[[], None]) -> StudyEnd:
        calls.append(timeout)
        seconds, did_join, result = outcomes.pop(0)
        clock.now += seconds
        if did_join:
            joined()
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[return-value]

    session.calls = calls  # type: ignore[attr-defined]
    return session


@pytest.mark.clause("5.4.3.2b")
def test_node_rejoins_after_the_dispatcher_comes_back() -> None:
    clock = FakeClock()
    lost = TransportError("dispatcher at x: UNAVAILABLE")
    session = _script(clock, [
        (50.0, True, lost),     # served for a while, then the dispatcher died
        (1.0, False, lost),     # still down
        (1.0, False, lost),
        (5.0, True, StudyEnd("s", True)),  # back: re-joined and finished
    ])
    end = stay_connected(session, connect_timeout=30.0, clock=clock, sleep=clock.sleep)
    assert end.ok
    assert clock.sleeps == [0.5, 1.0, 2.0]  # backoff doubles
    # Each attempt gets what is left of the outage budget as its connection timeout.
    assert session.calls[1] == pytest.approx(29.5) and session.calls[2] == pytest.approx(27.5)  # type: ignore[attr-defined]


def test_outage_longer_than_connect_timeout_gives_up_with_the_last_error() -> None:
    clock = FakeClock()
    session = _script(clock, [(0.0, True, TransportError("gone"))] + [(4.0, False, TransportError("still gone"))] * 20)
    with pytest.raises(TransportError, match="still gone"):
        stay_connected(session, connect_timeout=10.0, clock=clock, sleep=clock.sleep)
    assert clock.now <= 10.0 + 4.0


def test_first_connection_is_bounded_by_connect_timeout_as_before() -> None:
    clock = FakeClock()
    session = _script(clock, [(30.0, False, TransportError("could not open a mutual-TLS session"))])
    with pytest.raises(TransportError, match="mutual-TLS"):
        stay_connected(session, connect_timeout=30.0, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


def test_other_errors_are_not_retried() -> None:
    clock = FakeClock()
    session = _script(clock, [(0.0, False, IdentityError("dispatcher refused"))])
    with pytest.raises(IdentityError):
        stay_connected(session, connect_timeout=30.0, clock=clock, sleep=clock.sleep)
