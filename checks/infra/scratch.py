"""Throwaway servers for the suite's own work (replaying, normalizing): one per engine,
started on first use, removed by :meth:`Servers.close`. Never a target."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
from psycopg import sql

from checks.infra.cluster import Cluster, Engine, Prepared, runtime_dir
from checks.outcome import CouldNotCheck

ENDED = "the run is ending: its throwaway servers were removed"


class Scratch:
    """One engine's throwaway server (in :func:`runtime_dir`), started on first use."""

    def __init__(self, engine: Engine, cache_dir: Path | None = None) -> None:
        self.engine = engine
        self._cache_dir = cache_dir
        self._cluster: Cluster | None = None
        self._lock = threading.Lock()
        self._closed = False
        """Removed: a thread still at work (an interrupted run's) must not start it again."""

    def start(self, prepared: Prepared) -> bool:
        """Start with ``prepared``'s databases; False when it was already started."""
        with self._lock:
            if self._closed:
                raise CouldNotCheck(ENDED)
            if self._cluster is not None:
                return False
            self._cluster = Cluster(self.engine.bin_dir, self._cache_dir,
                                    runtime_dir()).start(prepared)
            return True

    @property
    def cluster(self) -> Cluster:
        with self._lock:
            if self._closed:
                raise CouldNotCheck(ENDED)
            if self._cluster is None:
                self._cluster = Cluster(self.engine.bin_dir, self._cache_dir,
                                        runtime_dir()).start()
            return self._cluster

    def conninfo(self, dbname: str = "postgres") -> str:
        return self.cluster.conninfo(dbname)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its conninfo."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.conninfo(name)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._cluster is not None:
                self._cluster.remove()
                self._cluster = None


class Servers:
    """The run's scratch servers, by engine."""

    def __init__(self, default: Engine, cache_dir: Path | None = None) -> None:
        self.default_engine = default
        self._cache_dir = cache_dir
        self._servers: dict[Engine, Scratch] = {}
        self._lock = threading.Lock()
        self._closed = False

    def get(self, engine: Engine | None = None) -> Scratch:
        engine = engine or self.default_engine
        with self._lock:
            if self._closed:
                raise CouldNotCheck(ENDED)
            if engine not in self._servers:
                self._servers[engine] = Scratch(engine, self._cache_dir)
            return self._servers[engine]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()
