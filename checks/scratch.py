"""One throwaway server per run for the suite's own work (normalizing, replaying)."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from checks.targets.cluster import Cluster


class Scratch:
    """Started on first use, removed by :meth:`close`; never the target."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self._bin_dir = bin_dir
        self._cluster: Cluster | None = None

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = Cluster(self._bin_dir).start()
        return self._cluster

    def conninfo(self, dbname: str = "postgres") -> str:
        return self.cluster.conninfo(dbname)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its conninfo."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.conninfo(name)

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.remove()
            self._cluster = None
