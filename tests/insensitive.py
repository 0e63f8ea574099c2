"""A build of the suite with one judge made insensitive on purpose, for the self-test's own
tests: ``-p tests.insensitive`` with ``VERIFY_TEST_INSENSITIVE=<kind>`` (its checks always
pass) or ``<kind>:blind`` (they always fail, naming nothing). Loaded before the plan is built,
it replaces the kind in the registry; nothing else of the suite changes."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from checks.kinds import REGISTRY
from checks.outcome import Outcome, failed, passed


def _always_passes(spec: Any, facts: Any) -> Outcome:
    return passed("all good (an insensitive judge)")


def _blind(spec: Any, facts: Any) -> Outcome:
    """Fails saying nothing of what is wrong (the time: not the same failure twice)."""
    return failed(f"something is wrong at {facts.now} (a judge that fails without saying what)")


for wanted in filter(None, os.environ.get("VERIFY_TEST_INSENSITIVE", "").split(",")):
    name, _, mode = wanted.partition(":")
    REGISTRY[name] = replace(REGISTRY[name], judge=_blind if mode == "blind" else _always_passes)
