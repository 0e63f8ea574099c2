"""Capture a database's catalog once: one query per kind of object, sent as one statement.

Each ``<kind>.sql`` file beside this module is a plain SELECT (parameter ``%(locked)s``:
relations another session holds ACCESS EXCLUSIVE, whose definitions are not read, so the
capture never waits on a lock; fragments ``%(reach)s`` and ``%(called)s``: the functions
an object's expressions run, see ``reach.sql``). The capture wraps them as JSON columns of
one SELECT, so a direct connection and the db-query Lambda return exactly the same
structures.

Every operator in them resolves to one of pg_catalog exactly (literals typed, ``name``
cast to text): one that needs a coercion could resolve to a user's operator of the same
name that takes the types as they are, in a schema of the search path.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.catalog.model import KINDS, Catalog, Session, from_row
from checks.outcome import CouldNotCheck

if TYPE_CHECKING:
    from checks.targets.base import Target

__all__ = ["Catalog", "Session", "capture", "capture_statement", "identify", "load_file",
           "replay_state", "save_file", "sql"]

LOCK_NOT_AVAILABLE = "55P03"
SNAPSHOT_FORMAT = "ops-verify-catalog/2"


@cache
def sql(name: str) -> str:
    """The text of ``<name>.sql`` in this folder."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


@cache
def capture_statement() -> str:
    """The session facts and every kind's query as JSON columns of one SELECT (one round
    trip); the lock list is computed inside it (``locked.sql``)."""
    locked = "(" + _without_comments(sql("locked")) + ")"
    session = _without_comments(sql("session"))
    columns = [f"(SELECT pg_catalog.to_json(s) FROM (\n{session}\n) AS s) AS session"]
    # each kind with its own count: an array cut short on the way is not a smaller catalog
    columns += [f"(SELECT pg_catalog.json_build_object('total', pg_catalog.count(*), 'rows', "
                f"coalesce(pg_catalog.json_agg(k), '[]')) FROM (\n"
                f"{_without_comments(sql(kind))}\n) AS k) AS {kind}" for kind in KINDS]
    return "SELECT " + ",\n".join(columns).replace("%(locked)s", locked).replace(
        "%(reach)s", _without_comments(sql("reach"))).replace(
        "%(called)s", _without_comments(sql("called")))


def identify(target: Target) -> Session:
    """Who and what answers (the capture's session facts alone), for a run that captures
    no catalog."""
    statement = _without_comments(sql("session")).replace("%(locked)s", "'{}'")
    return from_row(Session, target.query(statement).one())


def replay_state(target: Target, major: int) -> dict[str, Any]:
    """Where a standby's replay stands (``replica.sql``; judged by ``checks.replica``)."""
    pause_state = ("pg_catalog.pg_get_wal_replay_pause_state()" if major >= 14
                   else "NULL::text")
    statement = _without_comments(sql("replica")).replace("%(pause_state)s", pause_state)
    return target.query(statement).one()


def capture(target: Target) -> Catalog:
    """The target's catalog, in one statement. A relation locked between the lock list and
    a definition makes it time out on lock_timeout: it is then read once more."""
    for attempt in (1, 2):
        try:
            row = target.query(capture_statement()).one()
            break
        except CouldNotCheck as exc:
            if getattr(exc, "sqlstate", None) != LOCK_NOT_AVAILABLE or attempt == 2:
                raise CouldNotCheck(f"the catalog could not be read: {exc}") from None
    session = row["session"]
    if isinstance(session, str):
        session = json.loads(session)
    return Catalog.from_rows(from_row(Session, session),
                             {kind: _counted(kind, row[kind]) for kind in KINDS})


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def save_file(catalog: Catalog, path: Path, source: str, extra: dict[str, Any] | None = None
              ) -> None:
    """Write a catalog (an expected-schema snapshot or cache entry), sorted and stable."""
    document = {"format": SNAPSHOT_FORMAT, "source": source, **(extra or {}),
                "catalog": catalog.to_json()}
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load_file(path: Path) -> tuple[Catalog, dict[str, Any]]:
    """Read a file written by :func:`save_file`: the catalog and the document around it."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"{path} is not an ops-verify catalog ({SNAPSHOT_FORMAT}); "
                         "capture it again with python -m checks.snapshot")
    return Catalog.from_json(document["catalog"]), document


def _counted(kind: str, value: Any) -> list[dict[str, Any]]:
    """One kind's rows, as many as the capture counted beside them."""
    # psycopg decodes json columns; a proxy may hand them over as text.
    found = json.loads(value) if isinstance(value, str) else value
    rows = found.get("rows") if isinstance(found, dict) else None
    if not isinstance(rows, list) or len(rows) != found.get("total"):
        held = len(rows) if isinstance(rows, list) else "none"
        raise CouldNotCheck(f"the catalog could not be read: its {kind} hold {held} of the "
                            f"{found.get('total') if isinstance(found, dict) else '?'} rows "
                            "the capture counted (cut short on the way)")
    return rows
