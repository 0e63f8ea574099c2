"""The migration files themselves: distinct versions, and each one replays cleanly."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from checks.gather import Replay
from checks.kinds.base import Facts, Inputs, Kind
from checks.migrations import MigrationFile, prefix_text, shared_prefixes
from checks.outcome import Evidence, Outcome, accepted, failed, passed, skipped
from checks.selftest import faults as f


@dataclass(frozen=True)
class MigrationsDir:
    """The migration files of one folder; no two may share a version prefix."""

    path: Path
    files: tuple[MigrationFile, ...]

    @property
    def id(self) -> str:
        return self.path.name


def versions_unique(d: MigrationsDir, facts: Facts) -> Outcome:
    """Failed when two files share a numeric version (``1002_a.sql`` and ``1002_b.sql``):
    their order is then undefined and a ledger keyed by version cannot tell them apart."""
    groups = shared_prefixes(d.files)
    if not groups:
        return passed(f"{len(d.files)} migration files, every version distinct; order: "
                      f"{' < '.join(f.version for f in d.files[:3])}"
                      + (" < ..." if len(d.files) > 3 else ""))
    allowed = set(facts.inputs.config.ledger.accept_shared_prefixes)
    rows = [(prefix_text(key), ", ".join(f.path.name for f in files),
             "accepted" if prefix_text(key) in allowed else "shared")
            for key, files in sorted(groups.items())]
    evidence = Evidence("Shared version prefixes", ("version", "files", "status"), rows)
    problems = [(p, names) for p, names, status in rows if status != "accepted"]
    if problems:
        return failed(f"{len(problems)} version prefix(es) shared by several files: "
                      + "; ".join(f"{p}: {names}" for p, names in problems), evidence)
    return accepted(f"{len(rows)} shared version prefix(es), all accepted by the config: "
                    + "; ".join(f"{p}: {names}" for p, names, _ in rows), evidence)


def _replay_needs(m: MigrationFile, facts: Facts) -> list[Replay]:
    return [] if facts.inputs.expected.snapshot else [Replay()]


def replays(m: MigrationFile, facts: Facts) -> Outcome:
    """Passed when the file applies cleanly, in order, to an empty database; a failure
    gives PostgreSQL's message first, then where: the line and the statement."""
    if facts.inputs.expected.snapshot:
        return skipped("the expected schema comes from a snapshot; migrations are not replayed")
    applied = next(a for a in facts[Replay()].applied if a.version == m.version)
    if applied.error is None:
        return passed(f"{m.path.name} applies cleanly after the files before it")
    where = f" at line {applied.line}" if applied.line else ""
    statement = f"; statement: {applied.statement}" if applied.statement else ""
    return failed(f"{m.path.name} fails{where}: {applied.error}{statement}",
                  Evidence("Replay failure", ("version", "SQLSTATE", "line", "message",
                                              "statement"),
                           [(m.version, applied.sqlstate, applied.line, applied.error,
                             applied.statement)]))


def _dirs(inputs: Inputs) -> list[Any]:
    return [MigrationsDir(inputs.config.migrations_dir, tuple(inputs.migrations))]


# ---------------------------------------------------------------- self-test faults
MISSING_TABLE = f"{f.INJECTED}_missing"


def _add_file(name: str, files: f.FilesCopy) -> None:
    (files.migrations_dir / name).write_text(f"-- {f.INJECTED}: a second file of this version\n",
                                             encoding="utf-8")
    files.statements.append(f"added {name}")


def _distinct_faults(d: MigrationsDir, base: f.Base) -> f.Faults:
    """A file sharing the first version prefix the config does not accept as shared."""
    accepted_prefixes = set(base.config.ledger.accept_shared_prefixes)
    prefix = next((prefix_text(m.key) for m in d.files
                   if prefix_text(m.key) not in accepted_prefixes), None)
    if prefix is None:
        return f.unproven("every version prefix is accepted as shared, or there is no file")
    name = f"{prefix}_{f.INJECTED}.sql"
    return f.of(f.Fault(f"add {name}, a second file of version {prefix}",
                        partial(_add_file, name), names=(name,), on="files"))


def _break_file(name: str, files: f.FilesCopy) -> None:
    path = files.migrations_dir / name
    with path.open("a", encoding="utf-8") as out:
        out.write(f"\nALTER TABLE {MISSING_TABLE} ADD COLUMN x integer;\n")
    files.statements.append(f"appended to {name}: ALTER TABLE {MISSING_TABLE} ADD COLUMN x "
                            "integer;")


def _replay_faults(m: MigrationFile, base: f.Base) -> f.Faults:
    if base.inputs.expected.snapshot:
        return f.not_applicable("the expected schema comes from a snapshot; migrations are "
                                "not replayed")
    return f.of(f.Fault(f"end {m.path.name} with a statement that fails (a table that does "
                        "not exist)", partial(_break_file, m.path.name),
                        names=(m.path.name, MISSING_TABLE), on="files"))


DISTINCT = Kind("migration_versions_distinct", "migrations", versions_unique, items=_dirs,
                reads=frozenset({"files"}), faults=_distinct_faults)
REPLAYS = Kind("migration_replays", "migrations", replays, _replay_needs,
               items=lambda inputs: list(inputs.migrations), reads=frozenset({"scratch"}),
               faults=_replay_faults)
