"""The gRPC service shape, shared by server and client: raw frames, no protobuf codegen."""

from __future__ import annotations

SERVICE = "medfed.Dispatcher"
JOIN = f"/{SERVICE}/Join"
SUBMIT = f"/{SERVICE}/Submit"
FETCH_RESULT = f"/{SERVICE}/FetchResult"
AUTHENTICATE = f"/{SERVICE}/Authenticate"

# Enforced on both ends: a frame larger than this is refused by gRPC itself.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024

CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Detect a silently vanished peer (cable pulled) within ~20 s; a killed process is seen at once.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]
