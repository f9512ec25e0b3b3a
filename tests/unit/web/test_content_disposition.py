"""How an attachment's name reaches the browser (RFC 6266 with RFC 5987's `filename*`): the name as sent for
current browsers, a plain ASCII name for the others, nothing that could break out of the header."""

from __future__ import annotations

from itsm.web.attachments import content_disposition


def test_a_chinese_name_is_percent_encoded_with_an_ascii_fallback() -> None:
    assert content_disposition("attachment", "屏幕截图 1.png", 12) == (
        "attachment; filename=\"attachment-12.png\"; "
        "filename*=UTF-8''%E5%B1%8F%E5%B9%95%E6%88%AA%E5%9B%BE%201.png")


def test_an_ascii_name_is_kept_and_quotes_cannot_break_the_header() -> None:
    assert content_disposition("inline", "report (final).pdf", 3) == (
        "inline; filename=\"report (final).pdf\"; filename*=UTF-8''report%20%28final%29.pdf")
    header = content_disposition("attachment", 'a";x=1\\.txt', 4)
    assert header == "attachment; filename=\"a__x_1_.txt\"; filename*=UTF-8''a%22%3Bx%3D1%5C.txt"
    assert content_disposition("attachment", "ñ", 5) == "attachment; filename=\"attachment-5\"; filename*=UTF-8''%C3%B1"
