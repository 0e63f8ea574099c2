"""Adopting the suite on a live database whose migrations do not replay.

    python -m checks.adopt rebuild UPSTREAM_DIR DSN [--rows FILE ...]
    python -m checks.adopt capture DSN --config FILE --snapshot OUT [--ledger OUT]
    python -m checks.adopt ddl SNAPSHOT [--out FILE]

``rebuild`` builds the ops-pipeline's production database (github frotofraggins/inbound_aigen)
into an empty database the way its own tools built it, reading a checkout of that
repository at run time (nothing of it is kept here):

1. The migration Lambda (``services/db_migration_lambda/lambda_function.py``) is invoked
   until it changes nothing more. Each invocation creates the ledger table, reads the
   applied versions once, then applies every migration of its embedded ``MIGRATIONS`` dict
   not yet applied, in sorted text order, each as one ``execute`` and one ``commit`` (the
   migration's text inserts its own ledger row); the first error ends the invocation. A
   migration that deletes ledger rows makes the next invocation apply those again.
2. The ECS db-migrator (``services/db_migrator/migrate.py``) runs once: each
   ``db/migrations/*.sql`` (sorted) whose stem is not yet in the ledger is applied with
   its ledger row in one transaction; the first failure stops it.

The migrations and the statements the tools run around them are read from the checkout
with ``ast`` (never imported or executed as Python); a tool that no longer works that way
is an error, not a different rebuild. ``--rows`` then runs SQL files of sample data.

``capture`` writes a drift snapshot of a database (as ``python -m checks.snapshot``) and,
with ``--ledger``, its ledger rows in the order applied. ``ddl`` prints SQL that builds the
schema a snapshot holds into an empty database: a database equal to the snapshot for tests
and rehearsals, without the history that built the original.
"""

from __future__ import annotations

import argparse
import ast
import csv
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from checks.catalog import Catalog, load_file
from checks.catalog.model import Column, Constraint, Relation
from checks.infra.replay import apply_script
from checks.redact import Redactor
from checks.targets.postgres import dsn_password

LAMBDA = Path("services/db_migration_lambda/lambda_function.py")
MIGRATOR = Path("services/db_migrator/migrate.py")
MIGRATOR_IMAGE = Path("services/db_migrator/Dockerfile")
MAX_INVOCATIONS = 10


class AdoptError(Exception):
    """A problem with the input (said before anything is written) or with the history."""


# ------------------------------------------------------------------------ the checkout
@dataclass(frozen=True)
class Tools:
    """What the ops-pipeline's two migration tools run, read from a checkout."""

    lambda_migrations: dict[str, str]
    lambda_ledger_ddl: str
    lambda_applied_query: str
    migrator_ledger_ddl: str
    migrator_applied_query: str
    migrator_record: str
    """The ledger insert, with one ``%s`` for the file's stem."""
    migration_files: list[Path]


def read_tools(checkout: Path) -> Tools:
    """The tools of an upstream checkout, checked to still work as described above."""
    lambda_tree = _parse(checkout / LAMBDA)
    migrations = _dict_assigned(lambda_tree, "MIGRATIONS", checkout / LAMBDA)
    handler = _function(lambda_tree, "lambda_handler", checkout / LAMBDA)
    if not _iterates_sorted(handler, "MIGRATIONS"):
        raise AdoptError(f"{LAMBDA}: lambda_handler no longer applies sorted(MIGRATIONS)")
    lambda_sql = _executed(handler)
    migrator_tree = _parse(checkout / MIGRATOR)
    ensure = _executed(_function(migrator_tree, "ensure_migration_table", checkout / MIGRATOR))
    applied = _executed(_function(migrator_tree, "get_applied_migrations", checkout / MIGRATOR))
    record = [text for text, arguments in
              _executed(_function(migrator_tree, "apply_migration", checkout / MIGRATOR))
              if arguments == 2]
    runner = _function(migrator_tree, "run_migrations", checkout / MIGRATOR)
    if not _globs_sorted(runner, "*.sql"):
        raise AdoptError(f"{MIGRATOR}: run_migrations no longer applies sorted(glob('*.sql'))")
    if len(record) != 1:
        raise AdoptError(f"{MIGRATOR}: apply_migration no longer records one ledger row")
    return Tools(
        lambda_migrations=migrations,
        lambda_ledger_ddl=_one(lambda_sql, "CREATE TABLE", LAMBDA),
        lambda_applied_query=_one(lambda_sql, "SELECT version", LAMBDA),
        migrator_ledger_ddl=_one(ensure, "CREATE TABLE", MIGRATOR),
        migrator_applied_query=_one(applied, "SELECT version", MIGRATOR),
        migrator_record=record[0],
        migration_files=sorted((checkout / _image_migrations(checkout)).glob("*.sql")))


def _parse(path: Path) -> ast.Module:
    if not path.is_file():
        raise AdoptError(f"{path} not found: give a checkout of frotofraggins/inbound_aigen")
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _dict_assigned(tree: ast.Module, name: str, path: Path) -> dict[str, str]:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)):
            value = ast.literal_eval(node.value)  # literals only: nothing is executed
            if value and all(isinstance(k, str) and isinstance(v, str)
                             for k, v in value.items()):
                return value
    raise AdoptError(f"{path}: no {name} dict of version -> SQL text")


def _function(tree: ast.Module, name: str, path: Path) -> ast.FunctionDef:
    found = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name),
                 None)
    if found is None:
        raise AdoptError(f"{path}: no function {name}")
    return found


def _executed(function: ast.FunctionDef) -> list[tuple[str, int]]:
    """The constant SQL texts passed to ``*.execute(...)``, with the number of arguments."""
    return [(call.args[0].value, len(call.args)) for call in ast.walk(function)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "execute" and call.args
            and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)]


def _one(executed: list[tuple[str, int]], start: str, path: Path) -> str:
    found = [text for text, _ in executed if text.strip().upper().startswith(start.upper())]
    if len(found) != 1:
        raise AdoptError(f"{path}: expected one statement starting {start!r}, found "
                         f"{len(found)}")
    return found[0]


def _iterates_sorted(function: ast.FunctionDef, name: str) -> bool:
    return any(isinstance(n, ast.For) and isinstance(n.iter, ast.Call)
               and isinstance(n.iter.func, ast.Name) and n.iter.func.id == "sorted"
               and name in ast.unparse(n.iter) for n in ast.walk(function))


def _globs_sorted(function: ast.FunctionDef, pattern: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "sorted"
               and n.args and isinstance(n.args[0], ast.Call)
               and isinstance(n.args[0].func, ast.Attribute) and n.args[0].func.attr == "glob"
               and [getattr(a, "value", None) for a in n.args[0].args] == [pattern]
               for n in ast.walk(function))


def _image_migrations(checkout: Path) -> str:
    """The folder of the checkout that the migrator's image copies to ``/migrations``."""
    if not (checkout / MIGRATOR_IMAGE).is_file():
        raise AdoptError(f"{checkout / MIGRATOR_IMAGE} not found")
    for line in (checkout / MIGRATOR_IMAGE).read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) == 3 and words[0].upper() == "COPY" and words[2].rstrip("/") == "/migrations":
            return words[1]
    raise AdoptError(f"{MIGRATOR_IMAGE}: no COPY of a folder to /migrations")


# ------------------------------------------------------------------------ the rebuild
@dataclass
class Run:
    """What one invocation of a tool did."""

    tool: str
    applied: list[str] = field(default_factory=list)
    failed: str | None = None
    error: str | None = None

    def line(self) -> str:
        done = ", ".join(self.applied) or "nothing"
        failure = f"; {self.failed} FAILED: {self.error}" if self.failed else ""
        return f"{self.tool}: applied {len(self.applied)} ({done}){failure}"


def invoke_lambda(conninfo: str, tools: Tools) -> Run:
    """One invocation of the migration Lambda (psycopg2 semantics: a transaction begins
    with the first statement and ends with ``commit``)."""
    run = Run("migration Lambda")
    with _session(conninfo) as conn:
        conn.execute(tools.lambda_ledger_ddl)
        conn.commit()
        applied = {row[0] for row in conn.execute(tools.lambda_applied_query)}
        for version in sorted(tools.lambda_migrations):
            if version in applied:
                continue
            try:
                conn.execute(tools.lambda_migrations[version])  # no parameters: many statements
                conn.commit()
            except psycopg.Error as exc:
                conn.rollback()
                run.failed, run.error = version, _message(exc)
                break
            run.applied.append(version)
    return run


def run_migrator(conninfo: str, tools: Tools) -> Run:
    """One run of the ECS db-migrator task."""
    run = Run("ECS db-migrator")
    with _session(conninfo) as conn:
        conn.execute(tools.migrator_ledger_ddl)
        conn.commit()
        applied = {row[0] for row in conn.execute(tools.migrator_applied_query)}
        for path in tools.migration_files:
            if path.stem in applied:
                continue
            try:
                conn.execute(path.read_text(encoding="utf-8"))
                conn.execute(tools.migrator_record, (path.stem,))
                conn.commit()
            except psycopg.Error as exc:
                conn.rollback()
                run.failed, run.error = path.stem, _message(exc)
                break
            run.applied.append(path.stem)
    return run


def _session(conninfo: str) -> psycopg.Connection:
    """A session like the tools' on RDS: not autocommit, time zone UTC (RDS's default), so
    that ``now()`` written to a naive timestamp column is UTC wall-clock time."""
    conn = psycopg.connect(conninfo)
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    return conn


def rebuild(conninfo: str, tools: Tools, rows: Sequence[Path] = (),
            say: Callable[[str], None] = print) -> list[Run]:
    """Build production into the empty database ``conninfo``; each run as it happened."""
    _require_empty(conninfo)
    runs: list[Run] = []
    for _ in range(MAX_INVOCATIONS):
        run = invoke_lambda(conninfo, tools)
        runs.append(run)
        say(f"{len(runs)}. {run.line()}")
        if not run.applied:
            break  # a fixed point: nothing more to apply, or the same failure again
    else:
        raise AdoptError(f"the migration Lambda still applied migrations after "
                         f"{MAX_INVOCATIONS} invocations")
    run = run_migrator(conninfo, tools)
    runs.append(run)
    say(f"{len(runs)}. {run.line()}")
    for path in rows:
        apply_script(conninfo, path)
        say(f"rows: {path}")
    return runs


def _require_empty(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', "
            "'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' "
            "AND n.nspname NOT LIKE 'pg_toast_temp%'").fetchone()
    if found and found[0]:
        raise AdoptError("the database is not empty: rebuild only into a new, empty database")


def _message(exc: psycopg.Error) -> str:
    return (exc.diag.message_primary or str(exc)).strip() + (
        f" ({exc.sqlstate})" if exc.sqlstate else "")


def shape(conninfo: str) -> dict[str, int]:
    """Ledger rows, tables and views of the public schema: what the issue counts."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM schema_migrations),"
            " (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'),"
            " (SELECT count(*) FROM pg_catalog.pg_views WHERE schemaname = 'public')"
        ).fetchone()
    assert row is not None
    return dict(zip(("ledger rows", "tables", "views"), row, strict=True))


# ------------------------------------------------------------------------ capture
def ledger_rows(conninfo: str, table: str = "schema_migrations",
                version: str = "version") -> list[tuple[str, str]]:
    """The ledger's versions and applied_at times (UTC), in the order applied."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return [(v, str(t)) for v, t in conn.execute(
            sql.SQL("SELECT {v}, applied_at FROM {t} ORDER BY applied_at, {v}").format(
                v=sql.Identifier(version), t=sql.Identifier(table)))]


def write_ledger(rows: Iterable[tuple[str, str]], out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("version", "applied_at"))
        writer.writerows(rows)


def read_ledger(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(row["version"], row["applied_at"]) for row in csv.DictReader(f)]


# ------------------------------------------------------------------------ DDL from a snapshot
def ddl(catalog: Catalog) -> str:
    """SQL that creates, in an empty database, the schema ``catalog`` holds: tables with
    their columns, sequences, constraints, indexes and views (what drift compares of
    them). Kinds it cannot create yet are an error naming them, never left out."""
    _refuse_unsupported(catalog)
    statements = [f"CREATE SCHEMA IF NOT EXISTS {_ident(s)};"
                  for s in sorted({r.schema for r in catalog.relations})]
    for s in catalog.sequences:
        statements.append(
            f"CREATE SEQUENCE {_ident(s.schema)}.{_ident(s.name)} AS {s.type} INCREMENT BY "
            f"{s.increment} MINVALUE {s.min} MAXVALUE {s.max} START WITH {s.start}"
            f"{' CYCLE' if s.cycle else ''};")
    tables = [r for r in catalog.relations if r.is_table]
    for table in tables:
        columns = catalog.of_table("columns", table.schema, table.name)
        statements.append(f"CREATE TABLE {_name(table)} (\n    "
                          + ",\n    ".join(_column(c) for c in columns) + "\n);")
    for s in catalog.sequences:
        if s.owned_by:
            owner, column = s.owned_by.rsplit(".", 1)
            schema, table_name = owner.split(".", 1)
            statements.append(f"ALTER SEQUENCE {_ident(s.schema)}.{_ident(s.name)} OWNED BY "
                              f"{_ident(schema)}.{_ident(table_name)}.{_ident(column)};")
    # keys and indexes before foreign keys: a foreign key needs the referenced key's index
    keys = [k for k in catalog.constraints if k.type != "f"]
    statements += [_constraint(k) for k in keys]
    backing = {(k.schema, k.name) for k in keys if k.type in ("p", "u", "x")}
    statements += [f"{_reparsable(i.definition or '')};" for i in catalog.indexes
                   if (i.schema, i.name) not in backing]
    statements += [_constraint(k) for k in catalog.constraints if k.type == "f"]
    statements += [f"CREATE VIEW {_name(v)} AS\n{(v.definition or '').rstrip().rstrip(';')};"
                   for v in _views_in_order(catalog)]
    return "\n".join(statements) + "\n"


def _refuse_unsupported(catalog: Catalog) -> None:
    problems = [f"{kind} ({len(getattr(catalog, kind))})"
                for kind in ("triggers", "rules", "policies", "functions", "types", "extensions",
                             "settings", "operators", "casts", "event_triggers")
                if getattr(catalog, kind)]
    problems += [f"{r.schema}.{r.name}: {what}" for r in catalog.relations
                 for what, odd in (("not a plain table or view", r.kind not in "rvS"),
                                   ("not permanent", r.persistence != "p"),
                                   ("row-level security", r.rls_enabled or r.rls_forced),
                                   ("partitions or inheritance",
                                    bool(r.parents or r.partition_key)),
                                   ("view options", bool(r.options)),
                                   ("replica identity", r.is_table and r.replica_identity != "d"),
                                   ("publications", bool(r.publications))) if odd]
    problems += [f"{c.schema}.{c.table}.{c.name}: identity or generated" for c in
                 catalog.columns if c.identity or c.generated]
    if problems:
        raise AdoptError("the snapshot holds what ddl cannot create yet: "
                         + "; ".join(problems))


def _column(c: Column) -> str:
    text = f"{_ident(c.name)} {c.type}"
    if c.collation:
        text += f" COLLATE {c.collation}"
    if c.default is not None:
        text += f" DEFAULT {c.default}"
    return text + (" NOT NULL" if c.not_null else "")


def _constraint(k: Constraint) -> str:
    return (f"ALTER TABLE {_ident(k.schema)}.{_ident(k.table)} ADD CONSTRAINT {_ident(k.name)} "
            f"{_reparsable(k.definition or '')};")


_VARCHAR_ARRAY = re.compile(
    r"\(ARRAY\[('(?:[^']|'')*'::character varying"
    r"(?:, '(?:[^']|'')*'::character varying)*)\]\)::text\[\]")


def _reparsable(text: str) -> str:
    """A printed definition that PostgreSQL prints back the same. ``col IN ('a', 'b')`` on
    a VARCHAR column prints as ``(ARRAY['a'::character varying, ...])::text[]``, which
    parses back to a cast of each element (another text); an explicit cast of the array to
    ``character varying[]`` first parses back to the printed tree itself."""
    return _VARCHAR_ARRAY.sub(r"(ARRAY[\1]::character varying[])::text[]", text)


def _views_in_order(catalog: Catalog) -> list[Relation]:
    """Views after the views they read (by name in their definition)."""
    views = [r for r in catalog.relations if r.kind == "v"]
    reads = {v.name: {o.name for o in views if o is not v and re.search(
        rf"(?<![\w$]){re.escape(o.name)}(?![\w$])", v.definition or "")} for v in views}
    done: list[Relation] = []
    while len(done) < len(views):
        named = {d.name for d in done}
        ready = [v for v in views if v not in done and reads[v.name] <= named]
        if not ready:
            raise AdoptError("views that read each other in a circle: "
                             + ", ".join(v.name for v in views if v not in done))
        done += ready
    return done


def _name(r: Relation) -> str:
    return f"{_ident(r.schema)}.{_ident(r.name)}"


def _ident(name: str) -> str:
    return sql.Identifier(name).as_string(None)


# ------------------------------------------------------------------------ command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks.adopt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("rebuild", help="rebuild production from an upstream checkout")
    build.add_argument("upstream", type=Path, help="a checkout of frotofraggins/inbound_aigen")
    build.add_argument("dsn", help="an empty database to build into")
    build.add_argument("--rows", type=Path, action="append", default=[],
                       help="SQL file of sample rows to run afterwards (repeatable)")
    take = commands.add_parser("capture", help="snapshot a database (and its ledger)")
    take.add_argument("dsn")
    take.add_argument("--config", type=Path, help="invariants file whose [settings] to use")
    take.add_argument("--snapshot", type=Path, required=True, help="snapshot file to write")
    take.add_argument("--ledger", type=Path, help="CSV of the ledger rows to write")
    make = commands.add_parser("ddl", help="SQL that builds a snapshot's schema")
    make.add_argument("snapshot", type=Path)
    make.add_argument("--out", type=Path, help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    redact = Redactor([dsn_password(args.dsn)] if getattr(args, "dsn", None) else [])
    try:
        return _command(args)
    except (AdoptError, ValueError, OSError) as exc:
        print(f"adopt: {redact(str(exc))}", file=sys.stderr)
        return 4
    except psycopg.Error as exc:
        print(f"adopt: {redact(_message(exc))}", file=sys.stderr)
        return 2


def _command(args: argparse.Namespace) -> int:
    if args.command == "rebuild":
        for path in args.rows:
            if not path.is_file():
                raise AdoptError(f"--rows {path}: not a file")
        runs = rebuild(args.dsn, read_tools(args.upstream), args.rows)
        print(", ".join(f"{n} {what}" for what, n in shape(args.dsn).items()))
        return 1 if any(run.failed for run in runs) else 0
    if args.command == "capture":
        from checks import snapshot

        options = ["--dsn", args.dsn, "--out", str(args.snapshot)]
        code = snapshot.main(options + (["--config", str(args.config)] if args.config else []))
        if code == 0 and args.ledger:
            rows = ledger_rows(args.dsn)
            write_ledger(rows, args.ledger)
            print(f"ledger: {len(rows)} rows -> {args.ledger}")
        return code
    catalog, _ = load_file(args.snapshot)
    text = ddl(catalog)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
