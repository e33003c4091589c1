"""Communication accounting (Appendix A.3): server totals are the sum over the clients."""

from __future__ import annotations

import pytest

from medfed.dispatcher.traffic import TrafficMeter, totals


@pytest.mark.clause("A.3", "5.5.2-3")
def test_server_totals_equal_the_clients_and_a_silent_node_has_no_latency() -> None:
    meter = TrafficMeter()
    meter.to_node(None, "a", 40, now=0.0)  # setup traffic is kept apart from the rounds
    meter.to_node(1, "a", 100, now=1.0)
    meter.to_node(1, "b", 100, now=1.0)
    meter.from_node(1, "a", 30, now=1.25)
    meter.from_node(1, "a", 20, now=2.0)  # a second frame does not reset the latency
    entry = meter.round_summary(1, seconds=2.0)
    assert entry["clients"]["a"] == {"bytes_sent": 50, "bytes_received": 100, "seconds": 0.25}
    assert entry["clients"]["b"] == {"bytes_sent": 0, "bytes_received": 100, "seconds": None}
    assert entry["server"]["bytes_sent"] == sum(c["bytes_received"] for c in entry["clients"].values()) == 200
    assert entry["server"]["bytes_received"] == sum(c["bytes_sent"] for c in entry["clients"].values()) == 50
    assert entry["server"]["throughput_mb_s"] == round(250 / 1e6 / 2.0, 3)
    assert meter.setup_bytes == {"a": 40}
    summed = totals([entry, meter.round_summary(1, seconds=0.0)])
    assert summed["server"] == {"bytes_sent": 400, "bytes_received": 100}
    assert summed["clients"]["b"]["seconds"] == 0
