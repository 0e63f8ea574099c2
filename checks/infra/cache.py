"""The on-disk cache (``~/.cache/ops-verify``): each kind of entry in a folder of its own,
made once under a lock, and pruned to the entries used last.

A key is a virtualenv's binaries, an engine and a migration set, so keys pile up as
checkouts, engines and migrations change; each folder keeps the :data:`KEEP` it used
last (every use marks its entry) and deletes the others when it adds one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

KEEP = {"initdb": 3, "prepared": 6, "expected": 40, "normalized": 6}
"""Entries kept per folder: a few 25-60 MB server archives, small JSON files. Six migrated
databases: the suite's own tests use five (three migration sets on the wheel's engine, two
on PostgreSQL 15); with three, every run of them rebuilt some (least recently used)."""
_USE_LOCK = ".use"
"""Held shared while an entry is looked up and opened, exclusively while pruning: a prune
never removes an entry between a reader finding it and opening it."""
_MAKE_LOCK = ".lock"
"""Held while an entry is made (one maker per folder; readers are not held up)."""


def archive(path: Path, make: Callable[[Path], None]) -> BinaryIO:
    """``path`` opened for reading, made by ``make(partial)`` first when it is missing
    (under a lock, renamed into place whole); marks it used."""
    if found := _open_used(path):
        return found
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / _MAKE_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if found := _open_used(path):
            return found
        partial = path.with_suffix(f".{os.getpid()}.partial")
        try:
            make(partial)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        opened = _open_used(path)
        prune(path.parent, keep=path)
    assert opened is not None, f"{path} vanished as it was made"
    return opened


def touch(path: Path) -> None:
    """Mark a cache entry used (the prune keeps the entries used last)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def prune(folder: Path, keep: Path | None = None) -> None:
    """Delete all but the entries of ``folder`` used last (``KEEP[folder.name]`` of them,
    ``keep`` always among them); entries being made (``*.partial``) stay."""
    limit = KEEP.get(folder.name)
    if limit is None:
        return
    with _use_lock(folder, fcntl.LOCK_EX):
        entries = []
        for entry in folder.iterdir():
            if entry.name.startswith(".") or entry.name.endswith((".partial", ".tmp")):
                continue
            with contextlib.suppress(OSError):
                entries.append((entry == keep, entry.stat().st_mtime, entry))
        entries.sort(reverse=True)
        for _, _, old in entries[limit:]:
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


def _open_used(path: Path) -> BinaryIO | None:
    with _use_lock(path.parent, fcntl.LOCK_SH):
        try:
            found = path.open("rb")
        except FileNotFoundError:
            return None
        touch(path)
        return found


@contextlib.contextmanager
def _use_lock(folder: Path, mode: int) -> Iterator[None]:
    try:
        handle = open(folder / _USE_LOCK, "a")  # noqa: SIM115 (held across the block)
    except OSError:  # no folder yet (nothing to find), or a read-only cache
        yield
        return
    with handle:
        fcntl.flock(handle, mode)
        yield
