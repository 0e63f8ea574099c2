"""A schema as the catalog describes it: ``{"kind:qualified.name": {attribute: value}}``.

Captured through any target (so it works through the Lambda proxy too), saved as JSON for
the expected-schema snapshot, and compared object by object with per-kind rules that keep
what the PostgreSQL major version changes (NOT NULL catalogued as constraints in 18,
``NOT VALID``/``NOT ENFORCED`` flags in definitions) out of the comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checks import catalog
from checks.normalize import strip_suffixes
from checks.targets.base import Target

Schema = dict[str, dict[str, Any]]

KINDS = ("table", "view", "column", "constraint", "index", "trigger", "function", "sequence")
_FLAGS = (" NOT VALID", " NOT ENFORCED")


def capture(target: Target) -> Schema:
    """Every object of the user schemas, keyed by ``kind:schema.name`` style ids."""
    schema: Schema = {}
    for row in target.query(catalog.load("schema_tables")).dicts():
        kind = "view" if row["relkind"] in ("v", "m") else "table"
        attrs = {"relkind": row["relkind"]}
        if kind == "view":
            attrs["definition"] = _text(row["definition"])
        schema[f"{kind}:{row['schema']}.{row['name']}"] = attrs
    for kind, query, keys in (
        ("column", "schema_columns", ("schema", "table", "name")),
        ("constraint", "schema_constraints", ("schema", "table", "name")),
        ("index", "schema_indexes", ("schema", "name")),
        ("trigger", "schema_triggers", ("schema", "table", "name")),
        ("function", "schema_functions", ("schema", "name")),
        ("sequence", "schema_sequences", ("schema", "name")),
    ):
        for row in target.query(catalog.load(query)).dicts():
            name = ".".join(str(row[k]) for k in keys)
            schema[f"{kind}:{name}"] = {k: _value(v) for k, v in row.items() if k not in keys}
    return schema


@dataclass(frozen=True)
class Difference:
    """One attribute that differs; ``fatal`` ones fail the check, the others are shown."""

    attribute: str
    expected: Any
    found: Any
    fatal: bool = True


def compare(object_id: str, expected: dict[str, Any], found: dict[str, Any]) -> list[Difference]:
    """How a live object differs from the expected one."""
    kind = object_id.split(":", 1)[0]
    diffs = []
    for attr in sorted(set(expected) | set(found)):
        want, have = expected.get(attr), found.get(attr)
        if attr == "definition" and kind == "constraint":
            want, have = _strip_flags(want), _strip_flags(have)
        if want == have:
            continue
        diffs.append(_judge(kind, attr, want, have))
    return diffs


def _judge(kind: str, attr: str, want: Any, have: Any) -> Difference:
    # Health and validation only matter in one direction: better than expected is shown.
    if kind == "constraint" and attr == "validated":
        return Difference(attr, want, have, fatal=bool(want) and not have)
    if kind == "index" and attr in ("valid", "ready", "live"):
        return Difference(attr, want, have, fatal=bool(want) and not have)
    return Difference(attr, want, have)


def save(schema: Schema, path: Path, source: str) -> None:
    """Write a snapshot file (sorted, stable) for the drift check to read."""
    document = {"format": "ops-verify-schema/1", "source": source, "objects": schema}
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load(path: Path) -> Schema:
    """Read a snapshot written by :func:`save`."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format") != "ops-verify-schema/1":
        raise ValueError(f"{path} is not an ops-verify schema snapshot")
    return document["objects"]


def _strip_flags(definition: Any) -> Any:
    return strip_suffixes(definition, _FLAGS) if isinstance(definition, str) else definition


def _value(value: Any) -> Any:
    return _text(value) if isinstance(value, str) else value


def _text(value: str | None) -> str | None:
    return " ".join(value.split()) if value is not None else None
