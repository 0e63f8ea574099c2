"""The expected schema: what the migration files build when replayed, in order, into an
empty database on a throwaway server, or a committed snapshot.

A replay is cached on disk under the hash of the migration files, the engine and the
capture settings, so that collecting the checks reads a file and starts no server.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

from checks.catalog import Catalog, capture, load_file
from checks.config import Settings
from checks.infra import cache
from checks.infra.atomic import write_json
from checks.infra.cluster import Engine, default_cache_dir
from checks.infra.replay import Applied, apply_files
from checks.infra.scratch import Servers
from checks.migrations import MigrationFile
from checks.outcome import CouldNotCheck
from checks.targets.postgres import PostgresTarget

REPLAY_DATABASE = "ops_verify_replay"
CACHE_FORMAT = 5  # the catalog reads more (calls through pg_depend, settings, operators)


@dataclass(frozen=True)
class Replayed:
    """How each file went, and the catalog the replay left behind."""

    engine_version: str
    applied: tuple[Applied, ...]
    catalog: Catalog

    @property
    def failures(self) -> list[Applied]:
        return [a for a in self.applied if a.error]


class Expected:
    """The expected catalog per engine, replayed at most once per run and cached on disk."""

    def __init__(self, migrations: list[MigrationFile], settings: Settings, servers: Servers,
                 snapshot: Path | None = None, cache_dir: Path | None = None,
                 database: str = REPLAY_DATABASE) -> None:
        self.migrations = migrations
        self.snapshot = snapshot
        self.database = database
        """The replayed database's name on the run's server."""
        self._settings = settings
        self._servers = servers
        self._cache_dir = (cache_dir or default_cache_dir()) / "expected"
        self._replays: dict[Engine, Replayed | CouldNotCheck] = {}
        self._snapshot_catalog: Catalog | None = None
        self._lock = threading.Lock()

    def catalog(self, engine: Engine | None = None) -> Catalog:
        """The snapshot's catalog, else the replay's (on ``engine``, default: the run's)."""
        if self.snapshot is not None:
            return self._load_snapshot()
        return self.replayed(engine).catalog

    def replayed(self, engine: Engine | None = None) -> Replayed:
        engine = engine or self._servers.default_engine
        with self._lock:
            if engine not in self._replays:
                try:
                    self._replays[engine] = self._cached(engine) or self._replay(engine)
                except CouldNotCheck as exc:
                    self._replays[engine] = CouldNotCheck(f"replay not possible: {exc}")
            found = self._replays[engine]
        if isinstance(found, CouldNotCheck):
            raise found
        return found

    def replay_database(self, engine: Engine | None = None) -> str:
        """The conninfo of the replayed database on this run's server (replayed now if the
        expected schema came from the cache)."""
        scratch = self._servers.get(engine)
        with self._lock:  # concurrent reprints would each create it
            with psycopg.connect(scratch.conninfo(), autocommit=True) as conn:
                exists = conn.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = "
                                      "%s", (self.database,)).fetchone()
            if not exists:
                apply_files(scratch.create_database(self.database), self.migrations)
        return scratch.conninfo(self.database)

    # ---------------------------------------------------------------- internals
    def schema_key(self, engine: Engine) -> str:
        """What identifies the replayed schema on ``engine`` (for caches that depend on it)."""
        return self._key(engine)

    def _key(self, engine: Engine) -> str:
        digest = hashlib.sha256(f"{CACHE_FORMAT}|{engine.key}|{self._settings.search_path}|"
                                f"{self._settings.timezone}".encode())
        for m in self.migrations:
            digest.update(m.path.name.encode() + b"\0" + m.path.read_bytes() + b"\0")
        return digest.hexdigest()[:32]

    def _cached(self, engine: Engine) -> Replayed | None:
        path = self._cache_dir / f"{self._key(engine)}.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            cache.touch(path)
            return Replayed(document["engine_version"],
                            tuple(Applied(**a) for a in document["applied"]),
                            Catalog.from_json(document["catalog"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: replay again

    def _replay(self, engine: Engine) -> Replayed:
        scratch = self._servers.get(engine)
        applied = apply_files(scratch.create_database(self.database), self.migrations)
        replayed = PostgresTarget(scratch.conninfo(self.database), self._settings,
                                  kind="ephemeral", name="replay", watch=False)
        try:
            catalog = capture(replayed)
        finally:
            replayed.close()
        result = Replayed(engine.version, tuple(applied), catalog)
        self._store(engine, result)
        return result

    def _store(self, engine: Engine, result: Replayed) -> None:
        document = {"engine_version": result.engine_version,
                    "applied": [asdict(a) for a in result.applied],
                    "catalog": result.catalog.to_json()}
        with contextlib.suppress(OSError):  # a read-only cache only costs the next run time
            write_json(self._cache_dir / f"{self._key(engine)}.json", document)
            cache.prune(self._cache_dir)

    def _load_snapshot(self) -> Catalog:
        if self._snapshot_catalog is None:
            assert self.snapshot is not None
            try:
                self._snapshot_catalog = load_file(self.snapshot)[0]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CouldNotCheck(f"expected-schema snapshot unusable: {exc}") from None
        return self._snapshot_catalog

