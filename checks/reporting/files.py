"""Report files put in place together, or not at all.

Each file is first written under a temporary name in its own folder; only when every one
was written are they renamed into place, the one that carries the verdict last. A full
disk, a quota or a vanished folder stops the writes before any file of the run is in
place, and whatever was renamed already is taken back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from checks.infra.processes import alive as _alive

PARTIAL = ".partial"
"""The suffix of a file not yet in place (left only by a killed run)."""


class Staged:
    """The files of one publication, each under a temporary name until :meth:`publish`."""

    def __init__(self) -> None:
        self._token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._files: dict[Path, Path] = {}
        """Final path -> the temporary one beside it, in the order they were staged."""
        self.published: list[Path] = []

    def path(self, final: Path) -> Path:
        """Where ``final`` is written until it is published (a hidden name beside it)."""
        return self._files.setdefault(final, final.with_name(
            f".{final.name}.{self._token}{PARTIAL}"))

    def __contains__(self, final: object) -> bool:
        return final in self._files

    def write_text(self, final: Path, text: str) -> None:
        with _naming(self.path(final)) as temp:
            temp.write_text(text, encoding="utf-8")

    def copy(self, source: Path, final: Path) -> None:
        with _naming(self.path(final)) as temp:
            shutil.copyfile(source, temp)

    def missing(self) -> list[Path]:
        """Staged files that were never written (a plugin that wrote nothing)."""
        return [final for final, temp in self._files.items() if not temp.is_file()]

    def publish(self, last: Path) -> None:
        """Rename every staged file into place, ``last`` last; on any failure take back what
        was renamed (and raise)."""
        order = [f for f in self._files if f != last] + ([last] if last in self._files else [])
        try:
            for final in order:
                os.replace(self._files[final], final)
                self.published.append(final)
        except OSError:
            self.withdraw()
            raise

    def withdraw(self) -> None:
        """Remove the temporary files and whatever this publication put in place."""
        for final in self.published:
            final.unlink(missing_ok=True)
        self.published.clear()
        self.discard()

    def discard(self) -> None:
        for temp in self._files.values():
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[Path]:
    """A failed write names its file (``write()`` on a full disk names none)."""
    try:
        yield path
    except OSError as exc:  # a copy names its source; this is the file being written
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def sweep(folder: Path) -> None:
    """Remove the temporary files a killed run left (its process is gone)."""
    for temp in [*folder.glob(f".*{PARTIAL}"), *folder.glob(f"history/.*{PARTIAL}")]:
        pid = temp.name.rsplit(".", 2)[-2].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                temp.unlink()



def describe(exc: OSError, folder: Path | None = None) -> str:
    """``No space left on device (writing report.html)``: the cause and the file it hit, by
    its final name (relative to ``folder``)."""
    if not exc.filename:
        return str(exc.strerror or exc)
    path = Path(exc.filename)
    if path.name.endswith(PARTIAL):
        path = path.with_name(path.name[1:].rsplit(".", 2)[0])
    if folder is not None and path.is_relative_to(folder):
        path = path.relative_to(folder)
    shown = path.as_posix() if folder is not None else path.name
    return f"{exc.strerror or exc} (writing {shown})"


def write_together(files: dict[Path, str], last: Path) -> None:
    """Write ``files`` (path -> text) as one publication, ``last`` last; raises OSError with
    nothing of them left behind."""
    staged = Staged()
    try:
        for path, text in files.items():
            staged.write_text(path, text)
    except OSError:
        staged.discard()
        raise
    staged.publish(last)
