"""Serving the console over HTTPS (TLS 1.2 or later) with the dispatcher's certificate."""

from __future__ import annotations

import logging
import os
import signal
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from medfed.console.app import create_app
from medfed.console.settings import ConsoleSettings
from medfed.errors import ConfigError, TransportError
from medfed.pki import load_kit

log = logging.getLogger("medfed.console")


def tls_context(kit_dir: Path) -> ssl.SSLContext:
    """A server context with the kit's certificate and key; TLS 1.2 is the floor."""
    kit = load_kit(kit_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(kit.cert_path), str(kit.key_path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate and key of kit {kit_dir}: {exc}") from None
    return context


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TransportError(f"cannot listen on {host}:{port}: {exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(settings: ConsoleSettings) -> uvicorn.Server:
    context = tls_context(settings.kit)
    config = uvicorn.Config(
        create_app(settings),
        # uvicorn offers its own default context to the factory; ours replaces it.
        ssl_context_factory=lambda _config, _default: context,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    return uvicorn.Server(config)


def _write_port(port_file: Path, port: int) -> None:
    tmp = port_file.with_suffix(port_file.suffix + ".tmp")
    tmp.write_text(str(port), encoding="utf-8")
    os.replace(tmp, port_file)


def serve_console(settings: ConsoleSettings, *, host: str = "127.0.0.1", port: int = 8443, port_file: Path | None = None) -> None:
    """Serve until interrupted (SIGINT/SIGTERM); with ``port=0`` the bound port goes to ``port_file``."""
    sock = _bind(host, port)
    server = _server(settings)
    bound = sock.getsockname()[1]
    if port_file is not None:
        _write_port(port_file, bound)
    log.info("console at https://%s:%d/", host, bound)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the handler it found:
    # a no-op one lets the process end with status 0 instead of dying by the signal.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def running_console(settings: ConsoleSettings, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The console served in a background thread for as long as the block runs; yields its URL."""
    sock = _bind(host, port)
    server = _server(settings)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="medfed-console", daemon=True)
    thread.start()
    try:
        for _ in range(600):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.05)
        if not server.started:
            raise TransportError("the console did not start; see its log")
        yield f"https://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()
