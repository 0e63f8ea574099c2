"""Capture an expected-schema snapshot for the drift check.

    python -m checks.snapshot --dsn "host=... dbname=..." --out verify/expected_schema.json
    python -m checks.snapshot --migrations-dir db/migrations --out verify/expected_schema.json

Then set ``[drift] snapshot = "expected_schema.json"`` in the invariants file: the drift
check compares against the file instead of replaying the migrations (for histories that no
longer replay from scratch).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from checks import schema
from checks.config import ConfigError, Settings
from checks.migrations import discover
from checks.outcome import CouldNotCheck
from checks.redact import Redactor
from checks.reference import Reference
from checks.scratch import Scratch
from checks.targets.postgres import PostgresTarget, display_name, dsn_password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks.snapshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dsn", help="a known-good database to capture")
    source.add_argument("--migrations-dir", type=Path, help="replay these and capture")
    parser.add_argument("--pg-bin", type=Path, help="PostgreSQL bin dir for the replay")
    parser.add_argument("--out", type=Path, required=True, help="the snapshot file to write")
    args = parser.parse_args(argv)
    redact = Redactor([dsn_password(args.dsn)] if args.dsn else [])
    try:
        captured, source_name = _capture(args)
    except (ConfigError, CouldNotCheck) as exc:
        print(f"snapshot: {redact(str(exc))}", file=sys.stderr)
        return 2
    schema.save(captured, args.out, source_name)
    print(f"snapshot: {len(captured)} objects from {source_name} -> {args.out}")
    return 0


def _capture(args: argparse.Namespace) -> tuple[schema.Schema, str]:
    if args.dsn:
        name = display_name(args.dsn)
        target = PostgresTarget(args.dsn, Settings())
        try:
            return schema.capture(target), name
        finally:
            target.close()
    scratch = Scratch(args.pg_bin)
    try:
        reference = Reference(scratch, discover(args.migrations_dir), Settings())
        failed = [a for a in reference.replay() if a.error]
        if failed:
            raise CouldNotCheck(f"migration {failed[0].version} failed: {failed[0].error}")
        return reference.schema(), f"replay of {args.migrations_dir}"
    finally:
        scratch.close()


if __name__ == "__main__":
    sys.exit(main())
