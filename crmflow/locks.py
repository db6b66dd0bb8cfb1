"""One exclusive file lock, shared by the tracking store, the study storages and their parent runs."""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive `fcntl.flock` on `path` (created with its folder if missing).

    The kernel releases it when the holder dies, even by kill -9. flock locks belong to an open file,
    so a process must not take the same path twice (use one path per purpose: `lock_name`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_name(beside: Path, purpose: str) -> Path:
    """The lock file for `purpose` next to `beside`, e.g. `study.log.s1.claims.lock`."""
    return beside.with_name(f"{beside.name}.{re.sub(r'[^A-Za-z0-9_.-]', '_', purpose)}.lock")
