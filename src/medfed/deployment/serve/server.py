"""Run the app under uvicorn with TLS (1.2 or newer) from a startup kit's certificate.

:func:`start_service` binds the socket first (so port 0 yields a known free port), runs
uvicorn in a thread and returns once it accepts connections; the same path serves tests,
benchmarks and ``medfed serve``.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from cryptography import x509
from fastapi import FastAPI

from medfed.deployment.serve.errors import ServiceConfigError
from medfed.pki import StartupKit

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class TlsFiles:
    """The server's certificate and private key (PEM)."""

    cert: Path
    key: Path

    @classmethod
    def from_kit(cls, kit: StartupKit) -> TlsFiles:
        return cls(kit.cert_path, kit.key_path)


def certificate_hosts(cert: Path) -> list[str]:
    """The DNS names and IP addresses the certificate at ``cert`` is valid for."""
    try:
        parsed = x509.load_pem_x509_certificate(cert.read_bytes())
        san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    except (OSError, ValueError) as exc:
        raise ServiceConfigError(f"cannot read the certificate {cert}: {exc}") from None
    return [
        *san.get_values_for_type(x509.DNSName),
        *(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
    ]


def tls_context(files: TlsFiles) -> ssl.SSLContext:
    """A server context that refuses anything older than TLS 1.2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as exc:
        raise ServiceConfigError(f"cannot use {files.cert} / {files.key} for TLS: {exc}") from None
    context.set_alpn_protocols(["http/1.1"])
    return context


class RunningService:
    """A started service; :meth:`stop` shuts it down gracefully."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, host: str, port: int
    ) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections. A response leaves as small TLS records (headers,
    # body); without it Nagle's algorithm and delayed ACKs add ~40 ms to every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServiceConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    return sock


def start_service(
    app: FastAPI, tls: TlsFiles, *, host: str = "127.0.0.1", port: int = 0
) -> RunningService:
    """Serve ``app`` over HTTPS on ``host:port`` (0 = a free port) in a background thread."""
    context = tls_context(tls)  # fail here, in the caller, on an unusable key
    hosts = certificate_hosts(tls.cert)
    if host not in hosts and host not in ("0.0.0.0", "::"):
        log.warning(
            "the certificate %s names %s, not %s: clients that check host names will refuse it; "
            "use a kit whose certificate names the host clients connect to",
            tls.cert,
            ", ".join(hosts) or "no host",
            host,
        )
    sock = _bind(host, port)
    bound_port = int(sock.getsockname()[1])

    def factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return context

    config = uvicorn.Config(
        app,
        ssl_certfile=str(tls.cert),  # uvicorn needs it set to switch TLS on; the factory decides
        ssl_keyfile=str(tls.key),
        ssl_context_factory=factory,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="medfed-serve", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise ServiceConfigError(f"the service did not start on {host}:{bound_port}")
        time.sleep(0.02)
    log.info("serving on https://%s:%d", host, bound_port)
    return RunningService(server, thread, host, bound_port)
