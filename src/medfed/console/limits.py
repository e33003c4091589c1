"""Request bodies the console accepts, checked before anything parses them.

The console's forms are small URL-encoded posts and it takes no files. Form parsing runs
before a handler can check the session, so without this guard anyone could make the server
spool a multipart upload to a temporary file or hold a large body in memory. Outermost in
the app, :class:`BodyLimit` therefore

* refuses ``multipart/*`` with 415, unread;
* refuses a body over :data:`MAX_BODY_BYTES` with 413: at once by its ``Content-Length``,
  otherwise (chunked) as soon as the bytes received pass the limit.

A body within the limit is read into memory here and handed on unchanged. The limit leaves
room for the largest study text the create form accepts (200,000 characters), URL-encoded.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The largest request body the console reads (1 MiB).
MAX_BODY_BYTES = 1 << 20


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
            # The rest of the body is left unread: the connection cannot serve another request.
            (b"connection", b"close"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Pure ASGI middleware: multipart refused, bodies capped at ``max_bytes`` (see the module)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, not {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes, the most the console reads"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
        if content_type.startswith("multipart/"):
            await _refuse(send, 415, "the console takes no file uploads: multipart bodies are refused")
            return
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                await _refuse(send, 400, "the Content-Length header is not a number")
                return
            if int(length) > self.max_bytes:
                await _refuse(send, 413, self._too_large())
                return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await _refuse(send, 413, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the buffered body once, then whatever the server sends next."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
