"""The dispatcher's gRPC endpoint: mutual TLS, peer identity from the client certificate.

Every call is authenticated by the TLS handshake (a certificate from the study's CA
is required) and authorised here by the role written in that certificate. Limits on
message size, concurrent calls (server-wide and per party) and slow clients are listed
in :mod:`medfed.transport.wire`; a call over a limit ends with RESOURCE_EXHAUSTED, a
malformed argument with INVALID_ARGUMENT, and the server keeps serving the others.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import grpc

from medfed.errors import IdentityError, MedfedError
from medfed.pki import PeerIdentity, identity_from_cert
from medfed.roles import Role
from medfed.transport import wire

log = logging.getLogger("medfed.transport")


class NodeGateway(Protocol):
    """What the dispatcher service offers the transport."""

    def join(self, peer: PeerIdentity, is_active: ActiveCheck) -> Iterator[bytes]: ...

    def submit(self, peer: PeerIdentity, frame: bytes) -> bytes: ...

    def fetch_result(self, peer: PeerIdentity, wait_seconds: float) -> bytes: ...

    def authenticate(self, peer: PeerIdentity, cert_pem: bytes, message: bytes) -> bytes:
        """One step of the application-level challenge–response (5.5.1.2a)."""
        ...

    def check_authenticated(self, peer: PeerIdentity, cert_pem: bytes) -> None:
        """Raise IdentityError unless this peer completed the challenge–response on this certificate."""
        ...


class ActiveCheck(Protocol):
    def __call__(self) -> bool: ...


@dataclass(frozen=True)
class ServerTLS:
    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes


_ALLOWED = {
    # The auxiliary computing party (an arbiter holding a key) takes part like a hospital.
    "Join": {Role.DATA, Role.AUX},
    "Authenticate": {Role.DATA, Role.AUX},
    "Submit": {Role.DATA, Role.AUX},
    # The result party alone downloads the final model (5.4.2.3g); everyone else: PERMISSION_DENIED.
    "FetchResult": {Role.RESULT},
}


def _peer(context: grpc.ServicerContext, method: str, study_id: str) -> PeerIdentity:
    certs = context.auth_context().get("x509_pem_cert")
    if not certs:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required")
    try:
        peer = identity_from_cert(certs[0])
    except IdentityError as exc:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
    if peer.study_id != study_id:
        context.abort(
            grpc.StatusCode.PERMISSION_DENIED,
            f"certificate belongs to study {peer.study_id!r}, not {study_id!r}",
        )
    if peer.role not in _ALLOWED[method]:
        allowed = ", ".join(sorted(r.value for r in _ALLOWED[method]))
        log.warning("%s (%s) refused for %s", peer.name, peer.role.value, method)
        context.abort(
            grpc.StatusCode.PERMISSION_DENIED,
            f"{method} is for role(s) {allowed}; {peer.name} is {peer.role.value}",
        )
    return peer


class PeerLimiter:
    """At most ``limit`` calls in flight per authenticated party (by certificate name)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"max_calls_per_peer must be at least 1, not {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}

    @contextmanager
    def slot(self, name: str, context: grpc.ServicerContext) -> Iterator[None]:
        with self._lock:
            count = self._active.get(name, 0)
            if count >= self.limit:
                full = True
            else:
                full = False
                self._active[name] = count + 1
        if full:
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{name} already has {self.limit} calls in flight (the per-party limit)",
            )
        try:
            yield
        finally:
            with self._lock:
                left = self._active[name] - 1
                if left:
                    self._active[name] = left
                else:
                    del self._active[name]


def _cert(context: grpc.ServicerContext) -> bytes:
    # _peer has already required and parsed it.
    return bytes(context.auth_context()["x509_pem_cert"][0])


def _abort_on(context: grpc.ServicerContext, exc: MedfedError) -> None:
    context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{exc.code}: {exc}")


def start_server(
    gateway: NodeGateway,
    tls: ServerTLS,
    *,
    study_id: str,
    host: str,
    port: int,
    max_workers: int = 64,
    max_message_bytes: int = wire.MAX_MESSAGE_BYTES,
    max_concurrent_rpcs: int = wire.MAX_CONCURRENT_RPCS,
    max_calls_per_peer: int = wire.MAX_CALLS_PER_PEER,
) -> tuple[grpc.Server, int]:
    """Start serving; returns the server and the bound port (``port=0`` picks a free one).

    ``max_message_bytes``: the largest frame either way (size it with ``wire.message_limit_for``);
    ``max_concurrent_rpcs``: calls in flight server-wide; ``max_calls_per_peer``: per party.
    """
    limiter = PeerLimiter(max_calls_per_peer)

    def join(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        peer = _peer(context, "Join", study_id)
        with limiter.slot(peer.name, context):
            try:
                gateway.check_authenticated(peer, _cert(context))
                yield from gateway.join(peer, context.is_active)
            except MedfedError as exc:
                _abort_on(context, exc)

    def submit(request: bytes, context: grpc.ServicerContext) -> bytes:
        peer = _peer(context, "Submit", study_id)
        with limiter.slot(peer.name, context):
            try:
                gateway.check_authenticated(peer, _cert(context))
            except MedfedError as exc:
                _abort_on(context, exc)
            try:
                return gateway.submit(peer, request)
            except (TypeError, ValueError, KeyError, RecursionError) as exc:
                # A frame the decoder did not anticipate: the sender's fault, said as such.
                log.warning("malformed frame from %s: %s", peer.name, exc)
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed frame: {exc}")
                raise  # unreachable: abort raises

    def authenticate(request: bytes, context: grpc.ServicerContext) -> bytes:
        peer = _peer(context, "Authenticate", study_id)
        with limiter.slot(peer.name, context):
            try:
                return gateway.authenticate(peer, _cert(context), request)
            except MedfedError as exc:
                _abort_on(context, exc)
                raise  # unreachable: abort raises

    def fetch_result(request: bytes, context: grpc.ServicerContext) -> bytes:
        peer = _peer(context, "FetchResult", study_id)
        try:
            wait = float(request.decode("ascii") or 0)
        except (ValueError, UnicodeDecodeError):
            wait = math.nan
        if not (math.isfinite(wait) and wait >= 0):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "FetchResult takes the wait in seconds (>= 0)")
        with limiter.slot(peer.name, context):
            try:
                return gateway.fetch_result(peer, wait)
            except MedfedError as exc:
                _abort_on(context, exc)
                raise  # unreachable: abort raises

    handler = grpc.method_handlers_generic_handler(
        wire.SERVICE,
        {
            "Join": grpc.unary_stream_rpc_method_handler(join),
            "Submit": grpc.unary_unary_rpc_method_handler(submit),
            "FetchResult": grpc.unary_unary_rpc_method_handler(fetch_result),
            "Authenticate": grpc.unary_unary_rpc_method_handler(authenticate),
        },
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        options=wire.server_options(max_message_bytes),
        maximum_concurrent_rpcs=max_concurrent_rpcs,
    )
    server.add_generic_rpc_handlers((handler,))
    credentials = grpc.ssl_server_credentials(
        [(tls.key_pem, tls.cert_pem)], root_certificates=tls.ca_pem, require_client_auth=True
    )
    bound = server.add_secure_port(f"{host}:{port}", credentials)
    if bound == 0:
        raise MedfedError(f"could not listen on {host}:{port} (address in use?)")
    server.start()
    return server, bound
