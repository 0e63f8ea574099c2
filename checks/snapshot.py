"""Capture an expected-schema snapshot for the drift check.

    python -m checks.snapshot --dsn "host=... dbname=..." --out verify/expected_schema.json
    python -m checks.snapshot --migrations-dir db/migrations --out verify/expected_schema.json

Then set ``[drift] snapshot = "expected_schema.json"`` in the invariants file: the drift
check compares against the file instead of replaying the migrations (for histories that no
longer replay from scratch). The capture uses the session settings of ``--config`` (the
search_path changes how PostgreSQL prints names), so give the one the suite runs with.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from checks.catalog import Catalog, capture, save_file
from checks.config import ConfigError, Settings
from checks.infra.cluster import Engine, default_bin_dir
from checks.infra.expected import Expected
from checks.infra.scratch import Servers
from checks.kinds import load_config
from checks.migrations import discover
from checks.outcome import CouldNotCheck
from checks.redact import Redactor
from checks.targets.postgres import PostgresTarget, display_name, dsn_password, with_environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks.snapshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dsn", help="a known-good database to capture")
    source.add_argument("--migrations-dir", type=Path, help="replay these and capture")
    parser.add_argument("--config", type=Path, help="invariants file whose [settings] to use")
    parser.add_argument("--pg-bin", type=Path, help="PostgreSQL bin dir for the replay")
    parser.add_argument("--out", type=Path, required=True, help="the snapshot file to write")
    args = parser.parse_args(argv)
    redact = Redactor([dsn_password(args.dsn)] if args.dsn else [])
    try:
        settings = load_config(args.config).settings if args.config else Settings()
        captured, source_name = _capture(args, settings)
    except (ConfigError, CouldNotCheck) as exc:
        print(f"snapshot: {redact(str(exc))}", file=sys.stderr)
        return 2
    save_file(captured, args.out, source_name)
    print(f"snapshot: {len(captured.relations)} relations, {len(captured.columns)} columns, "
          f"{len(captured.constraints)} constraints, {len(captured.indexes)} indexes from "
          f"{source_name} -> {args.out}")
    return 0


def _capture(args: argparse.Namespace, settings: Settings) -> tuple[Catalog, str]:
    if args.dsn:
        name = display_name(args.dsn)
        target = PostgresTarget(with_environment(args.dsn, dict(os.environ)), settings)
        try:
            return capture(target), name
        finally:
            target.close()
    servers = Servers(Engine((args.pg_bin or default_bin_dir()).resolve()))
    try:
        expected = Expected(discover(args.migrations_dir), settings, servers)
        replayed = expected.replayed()
        if replayed.failures:
            first = replayed.failures[0]
            raise CouldNotCheck(f"migration {first.version} failed: {first.error}")
        return replayed.catalog, f"replay of {args.migrations_dir}"
    finally:
        servers.close()


if __name__ == "__main__":
    sys.exit(main())
