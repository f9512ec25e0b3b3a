"""The attachments' bytes, outside the database: a content-addressed folder (issue 17).

A file is named by the sha256 of its bytes, `<root>/ab/cd/abcd...` (two levels of 256 folders keep any one
folder small), so the same screenshot sent twice is kept once. Bytes arrive in `<root>/tmp/` while their digest
is computed and their size counted (never more than the limit is written, and never all of it in memory), are
flushed to disk and then renamed into place: a reader sees a whole file or none. `tmp/` is on the same file
system as the files, so the rename is atomic; a temporary file left by a crash is never read and can be deleted.

Which files may come in and who may read them is the engine's business (`itsm.engine.runtime.attachments`);
which rows name a digest is the database's (`store.attachments`).

Where the folder is: `ITSM_ATTACHMENTS_DIR` (or the web application's `ATTACHMENTS_DIR`), else `attachments`
beside an SQLite database file, else `attachments` in the working directory (as the default database is).
Creating a `FileStore` touches nothing: the folders are made when the first file arrives.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import URL, make_url

CHUNK = 1 << 20  # bytes read and written at a time
HEAD = 4096  # bytes of a file's start kept for recognising its format
TEMPORARY = "tmp"


class FileTooLarge(Exception):
    """More bytes arrived than the limit allows (what was written so far is removed)."""

    def __init__(self, limit: int):
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Received:
    """Bytes written to a temporary file, not yet kept: their digest, size and first bytes."""

    path: Path
    sha256: str
    size: int
    head: bytes


def default_folder(database_url: URL | str | None = None) -> Path:
    """`ITSM_ATTACHMENTS_DIR`, else `attachments` beside the SQLite file of `database_url`, else in the working
    directory (PostgreSQL, an in-memory SQLite database): an absolute path, decided once."""
    configured = os.environ.get("ITSM_ATTACHMENTS_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    if database_url:
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
                and not url.database.startswith("file:"):
            return Path(url.database).expanduser().resolve().parent / "attachments"
    return Path.cwd().resolve() / "attachments"


class FileStore:
    """One attachments folder."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def receive(self, source: BinaryIO, limit: int) -> Received:
        """Copy `source` into a temporary file, hashing as it goes; `FileTooLarge` (and nothing left behind)
        as soon as more than `limit` bytes came."""
        folder = self.root / TEMPORARY
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{secrets.token_hex(16)}.part"
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            with open(path, "xb") as out:
                for chunk in _chunks(source, limit + 1):
                    size += len(chunk)
                    if size > limit:
                        raise FileTooLarge(limit)
                    if len(head) < HEAD:
                        head += chunk[: HEAD - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Received(path, digest.hexdigest(), size, head)

    def keep(self, received: Received) -> bool:
        """Put received bytes in place under their digest (atomically); False when the same bytes were kept
        already (the temporary copy is dropped)."""
        target = self.path(received.sha256)
        if target.is_file() and target.stat().st_size == received.size:
            received.path.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(received.path, target)
        return True

    def discard(self, received: Received) -> None:
        """Drop received bytes that are not to be kept (a refused file, a failed transaction)."""
        received.path.unlink(missing_ok=True)

    def delete(self, sha256: str) -> None:
        """Remove the bytes of a digest no attachment names any more."""
        self.path(sha256).unlink(missing_ok=True)

    def open(self, sha256: str) -> BinaryIO:
        """The kept bytes of a digest (FileNotFoundError when they are not there)."""
        return open(self.path(sha256), "rb")


def _chunks(source: BinaryIO, most: int) -> Iterator[bytes]:
    """`source` in chunks, stopping after `most` bytes (one past the limit tells that there was more)."""
    left = most
    while left > 0:
        chunk = source.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk
