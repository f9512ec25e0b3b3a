"""Which files a ticket may get (issue 17): the allow-list of types, the size limit, clean names. Pure rules.

A file's type is decided here from its name's extension, never from what the sender declares: an extension
not on the list is refused. The content type a file is kept and served with comes from this table, so
nothing a sender says reaches a browser, and only when the file's first bytes are that format (PNG, JPEG, GIF,
WebP, BMP, PDF, the Office and OpenDocument formats, OFD, the archives have signatures): a program renamed
`screenshot.png` is kept as `application/octet-stream`, a download that is never shown. An extension the
installation allows that the table does not know is `application/octet-stream` too. Only the raster images of
the table whose bytes were checked are shown inline (as thumbnails); SVG and HTML, which can carry scripts,
are never in the table.

The default list suits a service desk: screenshots and photos, PDF and OFD documents, Office and WPS files,
text and log files, forwarded mails, archives (zip, rar, 7z) and device dumps (bin). `ITSM_ATTACHMENT_TYPES`
(extensions, comma-separated) replaces it; `ITSM_ATTACHMENT_MAX_BYTES` (`20MiB`, `512KiB` or a number of
bytes) sets the size limit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import N_, BadRequest, EngineError, ValidationFailed

MiB = 1 << 20
DEFAULT_MAX_BYTES = 20 * MiB
MAX_NAME = 200  # characters of a file name kept (with its extension)
OCTET_STREAM = "application/octet-stream"

_OLE = rb"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, .xls, .ppt
_ZIP = rb"PK(\x03\x04|\x05\x06)"  # zip archives, and the formats made of one (docx, odt, ofd ...)


@dataclass(frozen=True)
class FileType:
    content_type: str
    start: bytes = b""  # a pattern the file's first bytes match (empty: any content)
    image: bool = False  # a raster image a browser may show inline

    def fits(self, head: bytes) -> bool:
        return not self.start or re.match(self.start, head, re.DOTALL) is not None


KNOWN_TYPES: Mapping[str, FileType] = MappingProxyType({
    "png": FileType("image/png", rb"\x89PNG\r\n\x1a\n", True),
    "jpg": FileType("image/jpeg", rb"\xff\xd8\xff", True),
    "jpeg": FileType("image/jpeg", rb"\xff\xd8\xff", True),
    "gif": FileType("image/gif", rb"GIF8[79]a", True),
    "webp": FileType("image/webp", rb"RIFF.{4}WEBP", True),
    "bmp": FileType("image/bmp", rb"BM", True),
    "pdf": FileType("application/pdf", rb"%PDF-"),
    "ofd": FileType("application/ofd", _ZIP),
    "doc": FileType("application/msword", _OLE),
    "docx": FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
    "xls": FileType("application/vnd.ms-excel", _OLE),
    "xlsx": FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    "ppt": FileType("application/vnd.ms-powerpoint", _OLE),
    "pptx": FileType("application/vnd.openxmlformats-officedocument.presentationml.presentation", _ZIP),
    "odt": FileType("application/vnd.oasis.opendocument.text", _ZIP),
    "ods": FileType("application/vnd.oasis.opendocument.spreadsheet", _ZIP),
    "odp": FileType("application/vnd.oasis.opendocument.presentation", _ZIP),
    "wps": FileType(OCTET_STREAM),  # WPS Office: OLE or zip, depending on the version that wrote it
    "et": FileType(OCTET_STREAM),
    "dps": FileType(OCTET_STREAM),
    "txt": FileType("text/plain"),
    "log": FileType("text/plain"),
    "csv": FileType("text/csv"),
    "json": FileType("application/json"),
    "eml": FileType("message/rfc822"),
    "zip": FileType("application/zip", _ZIP),
    "rar": FileType("application/vnd.rar", rb"Rar!\x1a\x07"),
    "7z": FileType("application/x-7z-compressed", rb"7z\xbc\xaf\x27\x1c"),
    "bin": FileType(OCTET_STREAM),  # a device's configuration or memory dump
})
IMAGE_TYPES = frozenset(kind.content_type for kind in KNOWN_TYPES.values() if kind.image)
DEFAULT_EXTENSIONS = tuple(KNOWN_TYPES)


class TooLarge(EngineError):
    """A file over the size limit (SPEC 10: 413). `reason`: what the mail intake's note says of a refusal."""

    status, code, reason = 413, "request_entity_too_large", "too_large"


class UnsupportedType(EngineError):
    """A file whose type is not on the allow-list."""

    status, code, reason = 415, "unsupported_media_type", "type"


class EmptyFile(ValidationFailed):
    reason = "empty"


class Nameless(BadRequest):
    reason = "name"


@dataclass(frozen=True)
class UploadPolicy:
    """What a ticket accepts: at most `max_bytes` per file, of the types whose extensions are `allowed`."""

    max_bytes: int = DEFAULT_MAX_BYTES
    allowed: tuple[str, ...] = DEFAULT_EXTENSIONS  # extensions
    types: Mapping[str, FileType] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", MappingProxyType(
            {ext: KNOWN_TYPES.get(ext, FileType(OCTET_STREAM)) for ext in self.allowed}))

    @classmethod
    def configured(cls, max_bytes: str | int | None = None, extensions: str | None = None) -> UploadPolicy:
        """The policy from settings as written (`20MiB`; `png, jpg, pdf`); None: the default. ValueError for
        a setting that makes no sense, so a misconfigured installation stops at its start."""
        limit = DEFAULT_MAX_BYTES if max_bytes in (None, "") else parse_size(max_bytes)
        if extensions is None or not extensions.strip():
            return cls(limit)
        listed = tuple(dict.fromkeys(e.strip().lower().lstrip(".") for e in extensions.split(",") if e.strip()))
        bad = [e for e in listed if not re.fullmatch(r"[a-z0-9]{1,16}", e)]
        if bad:
            raise ValueError(f"not a file extension: {bad[0]!r} (write them like png,jpg,pdf)")
        return cls(limit, listed)

    @property
    def accept(self) -> str:
        """The file input's `accept` attribute: .png,.jpg,..."""
        return ",".join(f".{ext}" for ext in self.allowed)


def parse_size(value: str | int) -> int:
    """A number of bytes, written as bytes or with a binary unit: 20MiB, 20M, 512 KiB, 1GiB."""
    if isinstance(value, int):
        number, unit = value, ""
    else:
        found = re.fullmatch(r"\s*(\d+)\s*([kmg]?)(?:i?b)?\s*", value.lower())
        if found is None:
            raise ValueError(f"not a size: {value!r} (write 20MiB, 512KiB or a number of bytes)")
        number, unit = int(found[1]), found[2]
    size = number * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
    if size < 1:
        raise ValueError("the size limit must be at least one byte")
    return size


def size_text(size: int) -> str:
    """A size as people read it: 900 B, 14.2 KB, 3.5 MB, 20 MB (units of 1,024, as file managers show)."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def clean_name(raw: str | None) -> str:
    """A sent file name as kept: the last part of a path, NFC, without control and format characters (a
    right-to-left override makes `gpj.exe` look like `exe.jpg`), without leading dots and spaces, at most
    MAX_NAME characters with its extension. 400 when nothing is left."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if unicodedata.category(c).startswith("Z") else c for c in name
                   if not unicodedata.category(c).startswith("C"))
    name = " ".join(name.split(" ")).strip(" .")
    if not name:
        raise Nameless(N_("the file needs a name with its type's extension (screenshot.png)"),
                       [{"field": "file", "message": N_("no file name")}])
    stem, dot, extension = name.rpartition(".")
    if dot and stem and len(name) > MAX_NAME:
        keep = MAX_NAME - len(extension) - 1
        name = f"{stem[:max(keep, 1)]}.{extension[:MAX_NAME - 2]}"
    return name[:MAX_NAME]


def extension_of(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def file_type(name: str, policy: UploadPolicy) -> FileType:
    """The type of a file named `name` if the policy allows it (415 otherwise)."""
    extension = extension_of(name)
    found = policy.types.get(extension)
    if found is None:
        allowed = ", ".join(policy.allowed)
        if not extension:
            raise UnsupportedType(N_("'%(name)s' has no file type extension: send one of %(allowed)s",
                                     name=name, allowed=allowed),
                                  [{"field": "file", "message": N_("no file type extension")}])
        raise UnsupportedType(N_("files of type .%(extension)s are not accepted: send one of %(allowed)s",
                                 extension=extension, allowed=allowed),
                              [{"field": "file", "message": N_("type not accepted")}])
    return found


def stored_type(name: str, kind: FileType, head: bytes) -> FileType:
    """The type a file named `name` of the allowed `kind` is kept and served as, from its first bytes: `kind`
    when they are its format, else `application/octet-stream` (see the module's docstring). An empty file is
    refused (422)."""
    if not head:
        raise EmptyFile(N_("'%(name)s' is empty", name=name), [{"field": "file", "message": N_("empty file")}])
    return kind if kind.fits(head) else FileType(OCTET_STREAM)


def too_large(name: str, policy: UploadPolicy) -> TooLarge:
    limit = size_text(policy.max_bytes)
    return TooLarge(N_("'%(name)s' is larger than the limit of %(limit)s per file", name=name, limit=limit),
                    [{"field": "file", "message": N_("larger than %(limit)s", limit=limit)}])
