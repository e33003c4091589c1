"""Request bodies are checked before anything parses them: no multipart, nothing over the limit."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from medfed.console.limits import MAX_BODY_BYTES, BodyLimit
from tests.unit.console.console_support import client, trust

pytestmark = pytest.mark.clause("5.7.1.1")


class _Recorder:
    """An ASGI app that reads the whole body and answers 200 with its length."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def _call(app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """(status, chunks the client had to send) for a POST of ``chunks``."""
    sent: list[dict[str, Any]] = []
    given = 0

    async def receive() -> dict[str, Any]:
        nonlocal given
        if given == len(chunks):
            return {"type": "http.disconnect"}
        given += 1
        return {"type": "http.request", "body": chunks[given - 1], "more_body": given < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/login", "headers": headers}
    # In a thread of its own: a browser test of the session may hold an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return sent[0]["status"], given


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit():
    inner = _Recorder()
    limited = BodyLimit(inner, max_bytes=1000)
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    # Chunked (no Content-Length): refused as soon as the count passes the limit, the rest unread.
    status, read = _call(limited, [b"a" * 600, b"a" * 600, b"a" * 600, b"a" * 600], form)
    assert (status, read, inner.bodies) == (413, 2, [])
    # Within the limit, the body reaches the app unchanged, however it was chunked.
    assert _call(limited, [b"a" * 500, b"b" * 500], form) == (200, 2)
    assert inner.bodies == [b"a" * 500 + b"b" * 500]
    # A declared length over the limit is refused before a byte is read.
    status, read = _call(limited, [b"a" * 10], [*form, (b"content-length", b"1001")])
    assert (status, read) == (413, 0)
    assert _call(limited, [b"x"], [(b"content-type", b"Multipart/Form-Data; boundary=B")]) == (415, 0)
    assert _call(limited, [b"x"], [(b"content-length", b"12abc")]) == (400, 0)
    assert len(inner.bodies) == 1


def _raw_post(study: Any, url: str, head: str, body: bytes = b"") -> bytes:
    """A POST over TLS written by hand (the client sends only ``body``, however much ``head`` declares)."""
    host, port = url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw, \
            trust(study).wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"POST /login HTTP/1.1\r\nHost: {host}:{port}\r\n{head}\r\n".encode() + body)
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        return answer


def test_multipart_is_refused_before_it_is_read(study, console_url):
    # A file part to the login form, with no session: refused by its type alone.
    part = (b'--B\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + b"A" * 4096 + b"\r\n--B--\r\n")
    with client(study, console_url) as c:
        response = c.post("/login", content=part, headers={"content-type": "multipart/form-data; boundary=B"})
        assert response.status_code == 415 and "no file uploads" in response.json()["error"]
        # The same on every path, logged in or not.
        response = c.post("/tasks", content=part, headers={"content-type": "multipart/form-data; boundary=B"})
        assert response.status_code == 415


def test_an_oversized_body_is_refused_by_its_declared_length(study, console_url):
    # 40 MB declared, a few bytes sent: the answer comes at once, without waiting for the body.
    answer = _raw_post(study, console_url, "Content-Type: application/x-www-form-urlencoded\r\n"
                                          f"Content-Length: {40 * 2**20}\r\n", b"username=a")
    assert answer.startswith(b"HTTP/1.1 413 ") and b"larger than" in answer


def test_an_oversized_chunked_body_is_refused_once_counted(study, console_url):
    # No declared length: one byte over the limit, counted as it streams in. (Barely over, so the
    # client has sent everything before the server answers and closes: no reset races the answer.)
    pieces = [b"a" * 65536] * (MAX_BODY_BYTES // 65536) + [b"a"]
    assert sum(map(len, pieces)) == MAX_BODY_BYTES + 1
    chunks = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces)
    answer = _raw_post(study, console_url, "Content-Type: application/x-www-form-urlencoded\r\n"
                                          "Transfer-Encoding: chunked\r\n", chunks + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_an_ordinary_form_still_passes(study, console_url):
    with client(study, console_url) as c:
        c.get("/login")
        response = c.post("/login", data={"username": "ines", "password": "x" * 1000, "login_csrf": "stale"})
        assert response.status_code == 403 and "expired" in response.text  # reached the login handler
