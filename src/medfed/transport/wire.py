"""The gRPC service shape, shared by server and client: raw frames, no protobuf codegen.

Limits against hostile or broken peers (all enforced by gRPC itself, before a frame reaches
medfed code, and answered with a status code, never by dropping the server):

* **Message size** — ``max_message_bytes`` bounds every frame both ways (server and client;
  a larger one fails with RESOURCE_EXHAUSTED). Default 256 MiB; size it from the model with
  :func:`message_limit_for` (10 × the float32 model plus 1 MiB, at least 4 MiB: CKKS, the
  largest encoding, is ~8.05 × the plaintext update). ``start_server(max_message_bytes=...)``
  and ``DispatcherClient(max_message_bytes=...)`` take it.
* **Concurrency** — at most ``max_concurrent_rpcs`` calls in flight on the server (default
  128; more are refused with RESOURCE_EXHAUSTED instead of queueing) and at most
  ``max_calls_per_peer`` (default 8) calls in flight per authenticated party, across its
  connections (RESOURCE_EXHAUSTED beyond). HTTP/2's own per-connection stream limit is left
  at gRPC's default: lowering it makes clients see REFUSED_STREAM races on fast call sequences.
* **Slow or silent clients** — the TLS handshake must finish within 10 s; a connection
  with no call for 10 minutes is closed; clients may ping at most every 5 s without data
  (five strikes, then the connection is closed); the server pings every 10 s and drops a peer
  that does not answer within 10 s.
"""

from __future__ import annotations

SERVICE = "medfed.Dispatcher"
JOIN = f"/{SERVICE}/Join"
SUBMIT = f"/{SERVICE}/Submit"
FETCH_RESULT = f"/{SERVICE}/FetchResult"
AUTHENTICATE = f"/{SERVICE}/Authenticate"

# Enforced on both ends: a frame larger than this is refused by gRPC itself.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
MIN_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_CONCURRENT_RPCS = 128
MAX_CALLS_PER_PEER = 8
HANDSHAKE_TIMEOUT_MS = 10_000
MAX_CONNECTION_IDLE_MS = 600_000


def message_limit_for(model_bytes: int, *, expansion: float = 10.0) -> int:
    """A frame limit for a model of ``model_bytes`` float32 bytes (see the module docstring)."""
    if model_bytes < 0 or expansion < 1:
        raise ValueError("model_bytes must be >= 0 and expansion >= 1")
    return max(MIN_MESSAGE_BYTES, int(expansion * model_bytes) + 1024 * 1024)


def channel_options(max_message_bytes: int = MAX_MESSAGE_BYTES) -> list[tuple[str, int]]:
    """Options both ends share: frame size both ways, keepalive."""
    if max_message_bytes < 1024:
        raise ValueError(f"max_message_bytes must be at least 1024, not {max_message_bytes}")
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        # Detect a silently vanished peer (cable pulled) within ~20 s; a killed process is seen at once.
        ("grpc.keepalive_time_ms", 10_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def server_options(max_message_bytes: int = MAX_MESSAGE_BYTES) -> list[tuple[str, int]]:
    """The shared options plus the server's limits on connections and slow clients."""
    return [
        *channel_options(max_message_bytes),
        ("grpc.server_handshake_timeout_ms", HANDSHAKE_TIMEOUT_MS),
        ("grpc.max_connection_idle_ms", MAX_CONNECTION_IDLE_MS),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
        # A server starved of CPU reads two of a client's 10 s pings at once, which counts as a
        # strike: five (reset whenever the server sends data) still stop a flood within seconds.
        ("grpc.http2.max_ping_strikes", 5),
    ]


CHANNEL_OPTIONS = channel_options()
