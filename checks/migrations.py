"""Migration files on disk: versions, their order, shared prefixes, accepted history."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from checks.config import ConfigError, Ledger

_PREFIX = re.compile(r"\d+(?:_\d+)*(?=_|$)")


def version_key(version: str) -> tuple[int, ...]:
    """Numeric segments of a version's prefix: ``2026_02_02_0001_x`` -> (2026, 2, 2, 1).

    Versions order by these numbers, never as text (``009_x`` < ``1001_y``).
    """
    match = _PREFIX.match(version)
    if not match:
        raise ConfigError(f"migration {version!r}: the name must start with a numeric version "
                          "(e.g. 001_init.sql)")
    return tuple(int(part) for part in match.group(0).split("_"))


def order_key(order: str) -> Callable[[str], tuple[object, ...]]:
    """How versions sort: numeric segments (then the name), or plain text."""
    if order == "text":
        return lambda version: (version,)
    return lambda version: (version_key(version), version)


@dataclass(frozen=True)
class MigrationFile:
    """One ``.sql`` file; its version is the file name without ``.sql``."""

    path: Path

    @property
    def version(self) -> str:
        return self.path.stem

    @property
    def key(self) -> tuple[int, ...]:
        return version_key(self.version)

    @property
    def id(self) -> str:
        return self.version

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover(directory: Path, order: str = "numeric") -> list[MigrationFile]:
    """The migration files in ``directory``, in the configured order (numeric by default;
    ``applied`` replays in numeric order too)."""
    if not directory.is_dir():
        raise ConfigError(f"migrations dir not found: {directory} (give the folder of the "
                          "migration files with --migrations-dir or VERIFY_MIGRATIONS_DIR)")
    for path in directory.iterdir():
        if path.is_dir() and path.suffix.lower() != ".sql" and any(path.rglob("*.[sS][qQ][lL]")):
            raise ConfigError(f"migrations dir {directory}: {path.name}/ holds .sql files; a "
                              "runner that reads subfolders would apply them, and this suite "
                              "reads only the folder itself: move them up, or point "
                              "--migrations-dir elsewhere")
        if path.suffix.lower() == ".sql" and (path.suffix != ".sql" or not path.is_file()):
            # what a migration runner may apply must never be silently left out here
            problem = "not a readable file" if path.suffix == ".sql" else "suffix is not .sql"
            raise ConfigError(f"migrations dir {directory}: {path.name}: {problem}")
    files = [MigrationFile(p) for p in directory.glob("*.sql")]
    for f in files:
        version_key(f.version)  # a bad name is a config error, not a silently skipped file
    key = order_key(order)
    return sorted(files, key=lambda f: key(f.version))


def creating(files: Sequence[MigrationFile], name: str) -> MigrationFile | None:
    """The first migration (in order) whose text names ``name`` as a whole word: where an
    operator looks for the object a failure says is missing."""
    word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])", re.IGNORECASE)
    for f in files:
        try:
            if word.search(f.sql()):
                return f
        except (OSError, UnicodeDecodeError):
            continue
    return None


def shared_prefixes(files: Sequence[MigrationFile]) -> dict[tuple[int, ...], list[MigrationFile]]:
    """Version prefixes that more than one file uses (``1002_a.sql`` and ``1002_b.sql``)."""
    by_key: dict[tuple[int, ...], list[MigrationFile]] = defaultdict(list)
    for f in files:
        by_key[f.key].append(f)
    return {key: group for key, group in by_key.items() if len(group) > 1}


def prefix_text(key: tuple[int, ...]) -> str:
    return "_".join(str(k) for k in key)


@dataclass(frozen=True)
class History:
    """The ledger settings that say which history is known and accepted."""

    ledger: Ledger

    def before_baseline(self, version: str) -> bool:
        """Whether ``version`` comes before the baseline (nothing there is required)."""
        baseline = self.ledger.baseline
        if baseline is None:
            return False
        key = order_key("numeric" if self.ledger.order == "applied" else self.ledger.order)
        try:
            return key(version) < key(baseline)
        except ConfigError:
            return False

    def accepted(self, version: str, patterns: Sequence[str]) -> bool:
        return any(fnmatchcase(version, p) for p in patterns)
