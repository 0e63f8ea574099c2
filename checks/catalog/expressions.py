"""Pieces of PostgreSQL's printed definitions (pure text functions)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from checks.outcome import CouldNotCheck

CONSTRAINT_FLAGS = (" NOT VALID", " NO INHERIT", " NOT ENFORCED", " ENFORCED")
_CHECK = re.compile(r"CHECK \((.*)\)", re.DOTALL)


def strip_suffixes(text: str, suffixes: Sequence[str]) -> str:
    """``text`` without any of ``suffixes`` at its end, in any order and number."""
    text = text.strip()
    while ending := next((s for s in suffixes if text.endswith(s)), None):
        text = text[: -len(ending)]
    return text


def check_expression(definition: str) -> str:
    """The expression inside ``pg_get_constraintdef`` output: ``CHECK ((x > 0)) NOT VALID``."""
    match = _CHECK.fullmatch(strip_suffixes(definition, CONSTRAINT_FLAGS))
    if not match:
        raise CouldNotCheck(f"not a CHECK definition: {definition!r}")
    return match.group(1)
