"""Password hashes, the sign-in lock's growth, and which user names and mail addresses are accepted."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest

from itsm.engine.errors import BadRequest
from itsm.engine.people.login_throttle import FIRST_LOCK, FREE_FAILURES, LONGEST_LOCK, lock_duration
from itsm.engine.people.users import (
    PASSWORD_METHOD,
    check_email,
    check_user_name,
    hash_password,
    needs_rehash,
    verify_password,
)


def before_werkzeug(password: str) -> str:
    """A hash as releases up to 0.1 wrote it (scrypt N=2**14, base64 salt and digest)."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_new_hashes_are_werkzeug_scrypt_with_a_salt_of_their_own() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("scrypt:32768:8:1$") and PASSWORD_METHOD == "scrypt:32768:8:1"
    assert first != second  # salted
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horse!", first) and not verify_password("", first)
    assert not needs_rehash(first)


def test_hashes_of_older_formats_still_verify_and_ask_to_be_rewritten() -> None:
    legacy = before_werkzeug("pw")
    assert verify_password("pw", legacy) and not verify_password("wrong", legacy)
    weaker = "pbkdf2:sha256:1000$saltsalt$" + hashlib.pbkdf2_hmac("sha256", b"pw", b"saltsalt", 1000).hex()
    assert verify_password("pw", weaker) and not verify_password("wrong", weaker)
    assert needs_rehash(legacy) and needs_rehash(weaker)


@pytest.mark.parametrize("stored", [None, "", "plain", "scrypt$1$2", "scrypt$16384$8$1$!!$!!", "md5$x$y",
                                    "scrypt:x:8:1$salt$00", "pbkdf2:sha256$salt$00"])
def test_a_broken_or_unknown_hash_matches_no_password(stored: str | None) -> None:
    assert not verify_password("pw", stored)


def test_the_lock_doubles_from_one_minute_to_fifteen_and_stays_there() -> None:
    assert [lock_duration(n) for n in range(FREE_FAILURES)] == [None] * FREE_FAILURES
    minutes = [lock_duration(n) for n in range(FREE_FAILURES, FREE_FAILURES + 6)]
    assert minutes == [timedelta(minutes=m) for m in (1, 2, 4, 8, 15, 15)]
    assert lock_duration(10**6) == LONGEST_LOCK  # a guesser who keeps going for weeks: no overflow
    assert lock_duration(FREE_FAILURES) == FIRST_LOCK


@pytest.mark.parametrize("name", ["rita", "Rita.Rossi", "r_rossi-2", "rita@example.org", "王伟", "José", "7of9",
                                  "सीता", "a" * 100])
def test_names_of_letters_and_digits_of_any_script_are_accepted(name: str) -> None:
    check_user_name(name)


@pytest.mark.parametrize(("name", "message"), [
    ("<script>", "user name '<script>' holds '<'"),
    ("rita>", "user name 'rita>' holds '>'"),
    ('ri"ta', "holds '\"'"),
    ("o'brien", "holds '''"),
    ("ri`ta", "holds '`'"),
    ("a&b", "holds '&'"),
    ("rita rossi", "user name 'rita rossi' holds a space"),
    ("ri\x1b[2Jta", "user name (with a control character) holds U+001B"),
    ("ri\u202eta", "holds U+202E"),  # right-to-left override: a name that reads backwards
    ("a/b", "holds '/'"),
    ("a?b", "holds '?'"),
    ("a%2fb", "holds '%'"),
    (".hidden", "must start with a letter or a digit"),
    ("rita.", "end with none of . _ - @"),
    ("-rita", "must start with a letter or a digit"),
    ("a" * 101, "is longer than 100 characters"),
    ("Jose\u0301", "is not in Unicode normal form NFC"),
    ("", "user name '' is empty or starts or ends with a space"),
    ("system", "'system' is the built-in actor"),
])
def test_names_with_markup_quotes_spaces_or_control_characters_are_refused(name: str, message: str) -> None:
    with pytest.raises(BadRequest) as refused:
        check_user_name(name)
    assert message in refused.value.message
    assert "\x1b" not in refused.value.message  # never echoed to a terminal


@pytest.mark.parametrize("email", ["rita@example.org", "rita.rossi+itsm@mail.example.com", "o'brien@example.ie",
                                   "王伟@例子.中国", "x@a-b.example", "Rita@Example.invalid"])
def test_plain_mail_addresses_are_accepted(email: str) -> None:
    check_email(email)


@pytest.mark.parametrize("email", ["rita", "rita@", "@example.org", "rita@example", "rita@@example.org",
                                   "ri ta@example.org", "rita@exa mple.org", "<rita@example.org>",
                                   "rita@example.org>", '"rita"@example.org', "rita@-example.org",
                                   "rita@example-.org", "rita@example..org", "rita.@example.org",
                                   ".rita@example.org", "rita@example.123", "rita@example.org\nBcc: x@y.org",
                                   "rita@exa_mple.org", "a" * 65 + "@example.org", "a@" + "b" * 250 + ".org"])
def test_anything_else_is_not_a_mail_address(email: str) -> None:
    with pytest.raises(BadRequest, match="is not valid: write it as name@example.org"):
        check_email(email)
