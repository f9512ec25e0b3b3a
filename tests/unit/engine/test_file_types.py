"""What an attachment may be (issue 17): the allow-list by extension with the formats' first bytes checked,
the size limit as configured, clean file names. Pure rules, no database and no files."""

from __future__ import annotations

import pytest

from itsm.engine.errors import BadRequest, ValidationFailed
from itsm.engine.runtime.file_types import (
    DEFAULT_MAX_BYTES,
    IMAGE_TYPES,
    KNOWN_TYPES,
    MAX_NAME,
    UnsupportedType,
    UploadPolicy,
    clean_name,
    file_type,
    parse_size,
    size_text,
    stored_type,
    too_large,
)

POLICY = UploadPolicy()


@pytest.mark.parametrize(("name", "head", "content_type"), [
    ("screen.PNG", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
    ("photo.jpeg", b"\xff\xd8\xff\xe0", "image/jpeg"),
    ("anim.gif", b"GIF89a", "image/gif"),
    ("pic.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    ("scan.bmp", b"BM6\x00", "image/bmp"),
    ("报告.pdf", b"%PDF-1.7", "application/pdf"),
    ("公文.ofd", b"PK\x03\x04", "application/ofd"),
    ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
    ("new.xlsx", b"PK\x03\x04", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("wps.wps", b"anything", "application/octet-stream"),
    ("app.log", "错误".encode("gb18030"), "text/plain"),
    ("mail.eml", b"From: a@b", "message/rfc822"),
    ("empty.zip", b"PK\x05\x06", "application/zip"),
    ("logs.rar", b"Rar!\x1a\x07\x01\x00", "application/vnd.rar"),
    ("logs.7z", b"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed"),
    ("switch-config.bin", bytes(range(256)), "application/octet-stream"),
])
def test_the_default_list_takes_what_a_service_desk_gets(name: str, head: bytes, content_type: str) -> None:
    kind = stored_type(name, file_type(name, POLICY), head)
    assert kind.content_type == content_type
    assert kind.image == (content_type in IMAGE_TYPES)


@pytest.mark.parametrize(("name", "head"), [
    ("screen.png", b"MZ\x90\x00"), ("pic.webp", b"RIFF\x10\x00\x00\x00AVI "), ("photo.jpg", b"<html><script>"),
    ("report.pdf", b"<script>"), ("book.xlsx", b"\xd0\xcf\x11\xe0"), ("a.zip", b"MZ"),
])
def test_content_that_is_not_what_its_name_says_is_kept_as_plain_bytes(name: str, head: bytes) -> None:
    kind = stored_type(name, file_type(name, POLICY), head)
    assert kind.content_type == "application/octet-stream" and not kind.image  # a download, never shown


@pytest.mark.parametrize(("name", "head", "error"), [
    ("setup.exe", b"MZ", UnsupportedType), ("page.html", b"<html>", UnsupportedType),
    ("drawing.svg", b"<svg>", UnsupportedType), ("README", b"text", UnsupportedType),
    ("notes.txt", b"", ValidationFailed),
])
def test_anything_else_is_refused_with_a_reason(name: str, head: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        stored_type(name, file_type(name, POLICY), head)
    assert raised.value.details[0]["field"] == "file"  # type: ignore[attr-defined]


def test_no_type_that_carries_scripts_is_known_and_only_raster_images_are_inline() -> None:
    assert not {"svg", "html", "htm", "xhtml", "xml", "js", "swf"} & set(KNOWN_TYPES)
    assert IMAGE_TYPES == {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
    assert all(not kind.content_type.startswith("text/html") for kind in KNOWN_TYPES.values())


def test_the_installation_configures_the_list_and_the_limit() -> None:
    policy = UploadPolicy.configured("512KiB", " .PNG, pdf ,dwg,png ")
    assert policy.max_bytes == 512 * 1024 and policy.allowed == ("png", "pdf", "dwg")
    assert policy.types["dwg"].content_type == "application/octet-stream"  # allowed, served as bytes
    assert policy.accept == ".png,.pdf,.dwg"
    with pytest.raises(UnsupportedType):
        file_type("a.jpg", policy)
    assert UploadPolicy.configured(None, "") == UploadPolicy() and POLICY.max_bytes == DEFAULT_MAX_BYTES == 20 << 20
    for bad in ("20 parsecs", "-1", "0"):
        with pytest.raises(ValueError):
            parse_size(bad)
    with pytest.raises(ValueError):
        UploadPolicy.configured(None, "png, ../x")
    assert [parse_size(t) for t in ("20MiB", "20M", "20 mb", "512 KiB", "1GiB", "1000")] == [
        20 << 20, 20 << 20, 20 << 20, 512 << 10, 1 << 30, 1000]


def test_sizes_read_as_file_managers_show_them() -> None:
    assert [size_text(n) for n in (0, 1023, 1024, 1536, 348_160, 20 << 20, (20 << 20) + 1, 3 << 30)] == [
        "0 B", "1023 B", "1 KB", "1.5 KB", "340 KB", "20 MB", "20 MB", "3 GB"]
    assert str(too_large("big.zip", POLICY)) == "'big.zip' is larger than the limit of 20 MB per file"


@pytest.mark.parametrize(("sent", "kept"), [
    ("截图.png", "截图.png"),
    ("../../etc/passwd.txt", "passwd.txt"),
    ("C:\\Users\\王\\Desktop\\报告.pdf", "报告.pdf"),
    ("\u202egnp.exe", "gnp.exe"),  # a right-to-left override would show it as exe.png
    ("a\x00b\r\n.txt", "ab.txt"),
    ("  ..hidden.log  ", "hidden.log"),
    ("屏幕\u3000截图.png", "屏幕 截图.png"),
    ("e\u0301te.txt", "\u00e9te.txt"),  # NFC
])
def test_file_names_are_cleaned(sent: str, kept: str) -> None:
    assert clean_name(sent) == kept


def test_long_names_keep_their_extension_and_empty_ones_are_refused() -> None:
    long = clean_name("长" * 300 + ".docx")
    assert len(long) == MAX_NAME and long.endswith("长.docx")
    for empty in ("", None, "...", "/", "\u202e"):
        with pytest.raises(BadRequest):
            clean_name(empty)
