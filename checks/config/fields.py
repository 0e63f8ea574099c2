"""Typed config values and the generic builder that validates a TOML table into a dataclass.

Every problem is a :class:`ConfigError` with a one-line message naming the key, raised
before any SQL runs: unknown keys, wrong types, hostile identifiers, bad durations,
values out of range.
"""

from __future__ import annotations

import json
import re
import types
from dataclasses import MISSING, dataclass, fields, is_dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """The configuration (file, options or environment) is not usable."""


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")
_DURATION = re.compile(r"(\d+)\s*(ms|s|m|h|d)")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass(frozen=True)
class Range:
    """An ``Annotated`` marker: the number must lie within ``low`` and ``high``."""

    low: float | None = None
    high: float | None = None


Identifier = Annotated[str, "identifier"]
"""A SQL identifier from the config: validated here, quoted by psycopg.sql at use."""

Duration = Annotated[str, "duration"]
"""A positive duration such as ``500ms``, ``5s``, ``5m``, ``2h``, ``1d``."""


def duration_ms(text: str) -> int:
    """Milliseconds in a duration string (``5m`` -> 300000); zero is not a duration."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"not a positive duration: {text!r} (use e.g. 500ms, 5s, 5m, 2h)")
    return int(match.group(1)) * _DURATION_MS[match.group(2)]


_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_SIGNATURE = re.compile(rf"\s*({_NAME})\s*\.\s*({_NAME})\s*\(([^()]*)\)\s*")
_TYPE_ALIASES = {
    "int": "integer", "int4": "integer", "int2": "smallint", "int8": "bigint",
    "float4": "real", "float8": "double precision", "float": "double precision",
    "bool": "boolean", "varchar": "character varying", "char": "character",
    "bpchar": "character", "decimal": "numeric", "varbit": "bit varying",
    "timestamptz": "timestamp with time zone", "timestamp": "timestamp without time zone",
    "timetz": "time with time zone", "time": "time without time zone",
}


def function_signature(text: Any, where: str) -> str:
    """A function as PostgreSQL names it in the suite's messages, ``schema.name(argument
    types)``: names folded as SQL folds them, argument types in their long form
    (``int4`` -> ``integer``, ``varchar`` -> ``character varying``)."""
    match = _SIGNATURE.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ConfigError(f"{where}: {text!r} is not schema.name(argument types), e.g. "
                          '"public.valid_quantity(numeric)"')
    schema, name, arguments = match.groups()
    types = [" ".join(a.split()) for a in arguments.split(",")] if arguments.strip() else []
    if any(not t for t in types):
        raise ConfigError(f"{where}: {text!r} has an empty argument type")
    return f"{_folded(schema)}.{_folded(name)}({', '.join(map(_type_name, types))})"


def _folded(name: str) -> str:
    if name.startswith('"'):
        inner = name[1:-1].replace('""', '"')
        return inner if re.fullmatch(r"[a-z_][a-z0-9_$]*", inner) else name
    return name.lower()


def _type_name(text: str) -> str:
    array = ""
    while text.endswith("[]"):
        text, array = text[:-2].rstrip(), array + "[]"
    if not text.startswith('"'):
        text = text.lower()
    return _TYPE_ALIASES.get(text, text) + array


def check_identifier(value: Any, where: str) -> str:
    """Return ``value`` if it is a plain SQL identifier, else raise ConfigError naming ``where``."""
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigError(f"{where}: {value!r} is not a valid SQL identifier")
    return value


def one_of(spec: Any, keys: tuple[str, ...], empty_means: str = "everything") -> str:
    """The one key of ``keys`` the spec gives, non-empty; else a ConfigError (an entry that
    names nothing, or two things, or an empty prefix that would match everything)."""
    given = [k for k in keys if getattr(spec, k) is not None]
    if len(given) != 1:
        raise ConfigError(f"give exactly one of {', '.join(keys)}; got "
                          f"{', '.join(given) or 'none'}")
    if not str(getattr(spec, given[0])).strip():
        raise ConfigError(f"{given[0]} must not be empty (it would match {empty_means})")
    return given[0]


def from_table(cls: type, raw: Any, where: str, **extra: Any) -> Any:
    """Instantiate dataclass ``cls`` from a TOML table, validating keys and value types.

    ``extra`` values (e.g. an environment's name) are set without validation.
    """
    raw = typed(raw, dict, where)
    hints = _hints(cls)
    names = {f.name for f in fields(cls) if f.init} - set(extra)
    reject_unknown(raw, names, where)
    values: dict[str, Any] = dict(extra)
    for f in fields(cls):
        if not f.init or f.name in extra:
            continue
        if f.name in raw:
            values[f.name] = _value(raw[f.name], hints[f.name], f"{where}.{f.name}")
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f"{where}: missing required key '{f.name}'")
    try:
        return cls(**values)
    except ConfigError as exc:  # a __post_init__ cross-field rule
        raise ConfigError(f"{where}: {exc}") from None


@cache
def _hints(cls: type) -> dict[str, Any]:
    """A spec class's annotations, evaluated once per class (each config entry asked again:
    ~0.4 ms each, a config has dozens)."""
    return get_type_hints(cls, include_extras=True)


def nth_entry(where: str, index: int, raw: Any) -> str:
    """An entry of an array of tables as an operator finds it in the file:
    ``invariants.toml: [[unique]] #2 (name = "x")``, counted from 1, with its name (or
    table) when it has one (tomllib gives no line numbers)."""
    file, _, section = where.rpartition(": ")
    named = next((f" ({key} = {json.dumps(raw[key])})" for key in ("name", "table")
                  if isinstance(raw, dict) and isinstance(raw.get(key), str)), "")
    return f"{file + ': ' if file else ''}[[{section}]] #{index + 1}{named}"


def _value(value: Any, hint: Any, where: str) -> Any:
    """Validate one value against its annotation (markers, optionals, lists, literals)."""
    origin = get_origin(hint)
    if origin is Annotated:
        base, *markers = get_args(hint)
        value = _value(value, base, where)
        for marker in markers:
            _apply_marker(value, marker, where)
        return value
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        return _value(value, options[0], where)
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not one of "
                              f"{', '.join(repr(a) for a in allowed)}")
        return value
    if origin is list:
        (item,) = get_args(hint)
        return [_value(v, item, f"{where}[{i}]") for i, v in enumerate(typed(value, list, where))]
    if origin is dict:
        return typed(value, dict, where)
    if isinstance(hint, type) and is_dataclass(hint):
        return from_table(hint, value, where)
    if hint is Any:
        return value
    if hint in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{where}: expected {_KIND_NAMES[hint]}, got {value!r}")
    if hint is float and isinstance(value, int):
        return float(value)
    return typed(value, hint, where)


def _apply_marker(value: Any, marker: Any, where: str) -> None:
    if marker == "identifier":
        check_identifier(value, where)
    elif marker == "duration":
        try:
            duration_ms(value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    elif isinstance(marker, Range) and (
            (marker.low is not None and value < marker.low)
            or (marker.high is not None and value > marker.high)):
        bounds = (f"at least {marker.low}" if marker.high is None else
                  f"between {marker.low} and {marker.high}")
        raise ConfigError(f"{where}: {value!r} is out of range (must be {bounds})")


def typed(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: expected {_KIND_NAMES.get(kind, kind.__name__)}, "
                          f"got {type(value).__name__} {value!r}")
    return value


_KIND_NAMES = {dict: "a table", list: "a list", str: "a string", int: "an integer",
               bool: "true or false", float: "a number"}


def reject_unknown(raw: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' "
                          f"(known: {', '.join(sorted(known))})")
