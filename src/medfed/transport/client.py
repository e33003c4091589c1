"""A party's outbound connection to the dispatcher (hospitals allow outbound only)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from medfed.errors import TransportError, from_code
from medfed.transport import wire


@dataclass(frozen=True)
class ClientTLS:
    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes
    server_name: str = "localhost"


_REFUSED_HINT = (
    "the TLS handshake did not complete: check that this kit's certificate comes from the "
    "study's CA and has not expired, and that the dispatcher address is right"
)


class DispatcherClient:
    def __init__(
        self,
        target: str,
        tls: ClientTLS,
        *,
        connect_timeout: float = 30.0,
        max_message_bytes: int = wire.MAX_MESSAGE_BYTES,
    ) -> None:
        """``max_message_bytes``: the largest frame sent or accepted (see ``medfed.transport.wire``)."""
        credentials = grpc.ssl_channel_credentials(
            root_certificates=tls.ca_pem, private_key=tls.key_pem, certificate_chain=tls.cert_pem
        )
        options = [
            *wire.channel_options(max_message_bytes),
            ("grpc.ssl_target_name_override", tls.server_name),
            # A node may start before the dispatcher listens: retry the connection briskly.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ]
        self.target = target
        self._channel = grpc.secure_channel(target, credentials, options=options)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=connect_timeout)
        except grpc.FutureTimeoutError:
            self._channel.close()
            raise TransportError(
                f"could not open a mutual-TLS session with the dispatcher at {target} within "
                f"{connect_timeout:g} s; {_REFUSED_HINT}"
            ) from None
        self._join = self._channel.unary_stream(wire.JOIN)
        self._submit = self._channel.unary_unary(wire.SUBMIT)
        self._fetch = self._channel.unary_unary(wire.FETCH_RESULT)
        self._authenticate = self._channel.unary_unary(wire.AUTHENTICATE)

    def authenticate(self, message: bytes) -> bytes:
        """One challenge–response step (the caller runs the protocol; this only carries it)."""
        try:
            return self._authenticate(message, timeout=60)
        except grpc.RpcError as exc:
            raise _translate(exc, self.target) from None

    def tasks(self) -> Iterator[bytes]:
        """The frames the dispatcher sends this party, until the study ends."""
        try:
            yield from self._join(b"")
        except grpc.RpcError as exc:
            raise _translate(exc, self.target) from None

    def submit(self, frame: bytes, *, retries: int = 3) -> bytes:
        for attempt in range(retries):
            try:
                return self._submit(frame, timeout=300)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == retries - 1:
                    raise _translate(exc, self.target) from None
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def fetch_result(self, wait_seconds: float) -> bytes:
        try:
            return self._fetch(str(wait_seconds).encode(), timeout=wait_seconds + 30)
        except grpc.RpcError as exc:
            raise _translate(exc, self.target) from None

    def close(self) -> None:
        self._channel.close()


def _translate(exc: grpc.RpcError, target: str) -> Exception:
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.FAILED_PRECONDITION and ": " in details:
        err_code, _, message = details.partition(": ")
        return from_code(err_code, message)
    if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
        return from_code("identity", f"dispatcher at {target} refused: {details}")
    return TransportError(f"dispatcher at {target}: {code.name}: {details}")
