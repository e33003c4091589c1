"""Reading uploads in memory, and keeping them only where and how the operator asked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from medfed.deployment.serve.errors import UploadError, UploadTooLargeError
from medfed.deployment.serve.uploads import Upload, keep_upload, parse_upload, read_body


def _multipart(fields: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    request = httpx.Request("POST", "https://x/", files=fields)
    return request.read(), request.headers["content-type"]


def test_the_file_field_is_read_from_a_multipart_body() -> None:
    body, content_type = _multipart(
        {
            "note": ("n.txt", b"hello", "text/plain"),
            "file": ("scan.png", b"\x89PNG-data", "image/png"),
        }
    )
    upload = parse_upload(body, content_type, max_file_bytes=100)
    assert upload == Upload(b"\x89PNG-data", "scan.png", "image/png")


def test_a_file_above_the_limit_is_refused_even_inside_the_envelope_allowance() -> None:
    body, content_type = _multipart({"file": ("scan.png", b"x" * 101, "image/png")})
    with pytest.raises(UploadTooLargeError, match="limit of 100 bytes"):
        parse_upload(body, content_type, max_file_bytes=100)


def _run(coroutine):
    """Drive a coroutine that never waits on I/O (asyncio.run would clash with the browser
    fixture's event loop when the whole folder runs in one process)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the coroutine waited on I/O")


def test_a_body_longer_than_declared_limit_is_refused_before_it_is_read() -> None:
    async def chunks():
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    with pytest.raises(UploadTooLargeError):
        _run(read_body(chunks(), declared_length=str(10**9), max_file_bytes=1000))
    with pytest.raises(UploadError, match="Content-Length"):
        _run(read_body(chunks(), declared_length="lots", max_file_bytes=1000))

    async def sent(n: int):
        for _ in range(n):
            yield b"x" * 1000

    assert len(_run(read_body(sent(3), declared_length=None, max_file_bytes=3000))) == 3000
    with pytest.raises(UploadTooLargeError):  # no Content-Length: counted while it arrives
        _run(read_body(sent(100), declared_length=None, max_file_bytes=3000))


def test_malformed_multipart_is_a_clear_error() -> None:
    with pytest.raises(UploadError, match="no boundary"):
        parse_upload(b"--x\r\n", "multipart/form-data", max_file_bytes=100)
    with pytest.raises(UploadError, match="multipart request is malformed"):
        parse_upload(
            b"garbage without any boundary", "multipart/form-data; boundary=abc", max_file_bytes=100
        )


def test_kept_uploads_are_private_and_cannot_escape_their_folder(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    path = keep_upload(kept, Upload(b"pixels", "../../etc/passwd", "image/png"))
    assert path.parent == kept
    assert path.name.endswith("-passwd")
    assert path.read_bytes() == b"pixels"
    assert path.stat().st_mode & 0o777 == 0o600
