"""Checks on the migration files themselves: distinct versions, each file replays cleanly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from checks.context import Context
from checks.migrations import MigrationFile, prefix_text, shared_prefixes
from checks.outcome import Evidence, Outcome, failed, passed, skipped


@dataclass(frozen=True)
class MigrationsDir:
    """The migration files of one folder; no two may share a version prefix."""

    path: Path
    files: tuple[MigrationFile, ...]

    @property
    def id(self) -> str:
        return self.path.name


def versions_unique(ctx: Context, d: MigrationsDir) -> Outcome:
    """Failed when two files share a numeric version (``1002_a.sql`` and ``1002_b.sql``):
    their order is then undefined and a ledger keyed by version cannot tell them apart."""
    groups = shared_prefixes(list(d.files))
    if not groups:
        return passed(f"{len(d.files)} migration files, every version distinct; order: "
                      f"{' < '.join(f.version for f in d.files[:3])}"
                      + (" < ..." if len(d.files) > 3 else ""))
    rows = [(prefix_text(key), ", ".join(f.path.name for f in files))
            for key, files in sorted(groups.items())]
    return failed(f"{len(groups)} version prefix(es) shared by several files: "
                  + "; ".join(f"{p}: {names}" for p, names in rows),
                  Evidence("Shared version prefixes", ("version", "files"), rows))


def replays(ctx: Context, m: MigrationFile) -> Outcome:
    """Passed when the file applies cleanly, in order, to an empty database."""
    if ctx.reference.snapshot:
        return skipped("the expected schema comes from a snapshot; migrations are not replayed")
    applied = next(a for a in ctx.reference.replay() if a.version == m.version)
    if applied.error is None:
        return passed(f"{m.path.name} applies cleanly after the files before it")
    where = f" at line {applied.line}" if applied.line else ""
    statement = f": {applied.statement}" if applied.statement else ""
    return failed(f"{m.path.name} fails{where}{statement}: {applied.error}",
                  Evidence("Replay failure", ("version", "SQLSTATE", "line", "statement",
                                              "message"),
                           [(m.version, applied.sqlstate, applied.line, applied.statement,
                             applied.error)]))
