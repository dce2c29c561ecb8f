"""Reading one uploaded file from a multipart request into memory, with a hard size limit.

Starlette's form parser spools files over 1 MB to a temporary file on disk and only counts bytes
after the body has been read; X-rays are patient data and must never touch the disk, and an
oversized upload must be refused as soon as it is seen. So the request stream is parsed here, the
file part kept in memory and counted as it arrives, and every other part discarded unread.
"""

import unicodedata
from dataclasses import dataclass

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

# Room for the multipart framing (boundaries, part headers, small form fields) on top of the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_NAME_CHARACTERS = 120


class UploadError(Exception):
    """An upload that cannot be read: ``status_code`` is the HTTP answer, the message says why."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def display_name(filename: str | None) -> str:
    """The client's file name reduced to something safe to show: no folders, no control
    characters, bounded length. It only names the file in messages; nothing reads or writes it."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(character for character in name if unicodedata.category(character)[0] != "C").strip()
    if len(name) > MAX_NAME_CHARACTERS:
        name = name[: MAX_NAME_CHARACTERS - 1] + "…"
    return name or "upload"


def too_large(max_bytes: int) -> UploadError:
    return UploadError(
        413, f"The upload is larger than the limit of {max_bytes / 2**20:g} MB. Send a smaller image (downscale or re-export it)."
    )


class _FilePartCollector:
    """Callbacks for ``MultipartParser``: keeps the data of the first part named ``field``."""

    def __init__(self, field: str, max_bytes: int) -> None:
        self.field = field.encode()
        self.max_bytes = max_bytes
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.in_field = False
        self.found = False
        self.filename: str | None = None
        self.data = bytearray()

    def on_part_begin(self) -> None:
        self.disposition, self.in_field = b"", False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if options.get(b"name") != self.field:
            return
        if self.found:
            raise UploadError(400, f"The upload has more than one '{self.field.decode()}' field. Send one image per request.")
        self.found = self.in_field = True
        self.filename = options.get(b"filename", b"").decode("utf-8", errors="replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_field:
            return
        self.data += data[start:end]
        if len(self.data) > self.max_bytes:
            raise too_large(self.max_bytes)


async def read_upload(request: Request, field: str, max_bytes: int) -> Upload:
    """The file in form field ``field`` of a multipart/form-data request, read into memory.

    Reading stops as soon as the file exceeds ``max_bytes`` (or the body exceeds it plus the
    multipart framing), whatever Content-Length claimed.

    Raises:
        UploadError: 400 (not multipart, malformed, no such field, empty file), 413 (too large).
    """
    media_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise UploadError(400, f"Send the image as multipart/form-data in the form field '{field}'.")
    max_body_bytes = max_bytes + MULTIPART_OVERHEAD_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise too_large(max_bytes)
    collector = _FilePartCollector(field, max_bytes)
    callbacks = {
        name: getattr(collector, name)
        for name in ("on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished", "on_part_data")
    }
    parser = MultipartParser(boundary, callbacks)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body_bytes:
                raise too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as error:
        raise UploadError(400, f"The upload is not valid multipart/form-data ({error}). Send it as a browser form does.") from error
    except ClientDisconnect as error:
        raise UploadError(400, "The upload was interrupted before it was complete. Send it again.") from error
    if not collector.found:
        raise UploadError(400, f"The upload has no form field '{field}'. Send the image in the field '{field}'.")
    filename = display_name(collector.filename)
    if not collector.data:
        raise UploadError(400, f"'{filename}' is empty (0 bytes). Choose the image file again.")
    return Upload(filename, bytes(collector.data))
