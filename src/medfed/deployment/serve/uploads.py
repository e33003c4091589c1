"""Read one uploaded image from a request body, in memory only.

Starlette's form parser spools files above 1 MiB to a temporary file; an uploaded
patient image must not touch the disk unless the operator asked for it
(``--keep-uploads``), so the body is read here with a byte limit and the multipart
envelope is parsed in memory with python-multipart's streaming parser.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from medfed.deployment.serve.errors import UploadError, UploadTooLargeError

FIELD_NAME = "file"
# Raw bodies are accepted too, for clients that post the image itself.
RAW_TYPES = frozenset({"image/png", "image/jpeg", "application/dicom", "application/octet-stream"})
_MULTIPART_OVERHEAD = 16 * 1024  # boundaries and part headers around the file
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its bytes, the name and type the client gave (not trusted)."""

    data: bytes
    filename: str
    content_type: str


async def read_body(
    chunks: AsyncIterator[bytes], *, declared_length: str | None, max_file_bytes: int
) -> bytes:
    """The whole body, refused as soon as it (declared or sent) cannot hold a file of at most
    ``max_file_bytes`` plus its multipart envelope."""
    return await read_bounded(
        chunks,
        declared_length=declared_length,
        limit=max_file_bytes + _MULTIPART_OVERHEAD,
        too_large=f"the upload exceeds the limit of {_size(max_file_bytes)}",
    )


async def read_bounded(
    chunks: AsyncIterator[bytes], *, declared_length: str | None, limit: int, too_large: str
) -> bytes:
    """The whole body, :class:`UploadTooLargeError` (``too_large``) as soon as the declared
    length or the bytes received exceed ``limit``: a client cannot make the service hold more."""
    if declared_length is not None:
        try:
            declared = int(declared_length)
        except ValueError:
            raise UploadError("the Content-Length header is not a number") from None
        if declared > limit:
            raise UploadTooLargeError(too_large)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise UploadTooLargeError(too_large)
    return bytes(body)


def parse_upload(body: bytes, content_type: str | None, *, max_file_bytes: int) -> Upload:
    """The image in ``body``: the ``file`` field of a multipart form, or the raw body.

    Raises :class:`UploadError` for a missing or empty file and
    :class:`UploadTooLargeError` for a file above ``max_file_bytes``.
    """
    mime, options = parse_options_header(content_type or "")
    mime_text = mime.decode("latin-1").lower()
    if mime_text == "multipart/form-data":
        upload = _multipart_file(body, options.get(b"boundary"))
    elif mime_text in RAW_TYPES:
        upload = Upload(body, "", mime_text)
    else:
        raise UploadError(
            "send the image as multipart/form-data in a field named 'file' "
            f"(or as the raw body with type {', '.join(sorted(RAW_TYPES))})"
        )
    if not upload.data:
        raise UploadError("the uploaded file is empty")
    if len(upload.data) > max_file_bytes:
        raise UploadTooLargeError(f"the upload exceeds the limit of {_size(max_file_bytes)}")
    return upload


def _multipart_file(body: bytes, boundary: bytes | None) -> Upload:
    if not boundary:
        raise UploadError("the multipart request has no boundary")
    parts: list[dict[str, object]] = []
    header_name = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        parts.append({"headers": {}, "data": bytearray()})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers = parts[-1]["headers"]
        assert isinstance(headers, dict)
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        buffer = parts[-1]["data"]
        assert isinstance(buffer, bytearray)
        buffer.extend(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise UploadError(f"the multipart request is malformed: {exc}") from None
    for part in parts:
        headers = part["headers"]
        assert isinstance(headers, dict)
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        if disposition.get(b"name") == FIELD_NAME.encode():
            data = part["data"]
            assert isinstance(data, bytearray)
            filename = disposition.get(b"filename", b"").decode("utf-8", "replace")
            part_type = headers.get(b"content-type", b"application/octet-stream")
            return Upload(bytes(data), filename, part_type.decode("latin-1"))
    raise UploadError(f"the form has no field named {FIELD_NAME!r} holding the image")


def keep_upload(directory: Path, upload: Upload) -> Path:
    """Write ``upload`` into ``directory`` (only when the operator asked to keep uploads)."""
    stem = _SAFE_NAME.sub("_", Path(upload.filename).name)[-80:] or "upload"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = directory / f"{stamp}-{secrets.token_hex(4)}-{stem}"
    # 0600 from creation: the file is a patient image.
    with open(path, "xb", opener=lambda name, flags: os.open(name, flags, 0o600)) as handle:
        handle.write(upload.data)
    return path


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"
