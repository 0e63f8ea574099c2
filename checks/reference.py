"""The expected schema: what the migrations build (replayed once per run), or a snapshot."""

from __future__ import annotations

from pathlib import Path

from checks import schema
from checks.config import Settings
from checks.migrations import MigrationFile
from checks.outcome import CouldNotCheck
from checks.replay import Applied, apply_files
from checks.scratch import Scratch
from checks.targets.postgres import PostgresTarget

REPLAY_DATABASE = "ops_verify_replay"


class Reference:
    """Replays the migrations into a fresh database on the scratch server, at most once.

    With a snapshot file, the expected schema is read from it and nothing is replayed.
    Failures are remembered and raised again as CouldNotCheck for every check that asks.
    """

    def __init__(self, scratch: Scratch, migrations: list[MigrationFile], settings: Settings,
                 snapshot: Path | None = None) -> None:
        self._scratch = scratch
        self._migrations = migrations
        self._settings = settings
        self.snapshot = snapshot
        self._applied: list[Applied] | None = None
        self._schema: schema.Schema | None = None
        self._error: CouldNotCheck | None = None

    def replay(self) -> list[Applied]:
        """How each migration file went when applied, in order, to an empty database."""
        if self._error:
            raise self._error
        if self._applied is None:
            try:
                conninfo = self._scratch.create_database(REPLAY_DATABASE)
                self._applied = apply_files(conninfo, self._migrations)
            except CouldNotCheck as exc:
                self._error = CouldNotCheck(f"replay not possible: {exc}")
                raise self._error from None
        return self._applied

    def schema(self) -> schema.Schema:
        """The expected catalog: the snapshot's, or the replayed database's."""
        if self._error:
            raise self._error
        if self._schema is None:
            self._schema = self._load_snapshot() if self.snapshot else self._capture_replay()
        return self._schema

    def _capture_replay(self) -> schema.Schema:
        self.replay()
        replayed = PostgresTarget(self._scratch.conninfo(REPLAY_DATABASE), self._settings,
                                  kind="ephemeral", name="replay")
        try:
            return schema.capture(replayed)
        finally:
            replayed.close()

    def _load_snapshot(self) -> schema.Schema:
        assert self.snapshot is not None
        try:
            return schema.load(self.snapshot)
        except (OSError, ValueError) as exc:
            self._error = CouldNotCheck(f"expected-schema snapshot unusable: {exc}")
            raise self._error from None
