"""Invariants as pytest items: the check runs in setup, its verdict is asserted in call.

So pytest's own categories carry the outcome: could-not-check raises in setup (an
*error* in every report and a non-zero exit), a violated invariant fails the call, a
check that does not apply is skipped with its reason.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from checks.aws import Aws
from checks.context import Context
from checks.normalize import Normalizer
from checks.outcome import CouldNotCheck, Outcome, Status
from checks.targets import open_target
from plugin.plan import PLAN_KEY, Plan, Unavailable, build

OUTCOME_KEY = pytest.StashKey[Outcome]()
CONTEXT_KEY = pytest.StashKey[Context]()


def invariant(source: str, check: Callable[[Context, Any], Outcome]) -> pytest.MarkDecorator:
    """Mark a test as one item per invariant of ``source``, each checked by ``check``."""
    return pytest.mark.invariant(source, check)


def verdict(outcome: Outcome) -> None:
    """Fail the test unless the outcome passed (could-not-check already raised in setup)."""
    if outcome.status is not Status.PASSED:
        pytest.fail(outcome.message, pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.stash[PLAN_KEY] = build(config)
    if not hasattr(config, "workerinput"):
        _teardown_on_sigterm()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    mark = metafunc.definition.get_closest_marker("invariant")
    if mark is None:
        return
    items = metafunc.config.stash[PLAN_KEY].invariants(mark.args[0])
    metafunc.parametrize("outcome", items, ids=[str(i.id) for i in items], indirect=True)


@pytest.fixture(scope="session")
def plan(pytestconfig: pytest.Config) -> Plan:
    return pytestconfig.stash[PLAN_KEY]


@pytest.fixture(scope="session")
def context(plan: Plan, pytestconfig: pytest.Config) -> Iterator[Context]:
    """One connection (or one throwaway server) for the whole run, always closed."""
    aws = Aws(plan.spec.aws_region, plan.spec.aws_profile) if plan.spec.aws else None
    ctx = Context(lambda: open_target(plan.spec, plan.config, plan.migrations, plan.scratch),
                  plan.reference, Normalizer(plan.scratch), plan.config.settings, aws)
    pytestconfig.stash[CONTEXT_KEY] = ctx
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def outcome(request: pytest.FixtureRequest, context: Context) -> Outcome:
    """Run the item's check against the target; raises CouldNotCheck, skips when n/a."""
    check = request.node.get_closest_marker("invariant").args[1]
    try:
        if isinstance(request.param, Unavailable):
            raise CouldNotCheck(request.param.error)
        result = check(context, request.param)
    except CouldNotCheck as exc:
        request.node.stash[OUTCOME_KEY] = Outcome(Status.ERROR, str(exc), sql=exc.sql)
        raise
    request.node.stash[OUTCOME_KEY] = result
    if result.status is Status.SKIPPED:
        pytest.skip(result.message)
    if result.status is Status.ERROR:
        raise CouldNotCheck(result.message)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    excinfo = call.excinfo
    if excinfo is not None and excinfo.errisinstance(CouldNotCheck):
        # The cause in one line, not a traceback through our plumbing.
        report.longrepr = f"could not check: {excinfo.value}"
    elif excinfo is not None and not excinfo.errisinstance(
            (pytest.fail.Exception, pytest.skip.Exception, KeyboardInterrupt)):
        # A bug, not a finding: keep the traceback, but give the cause in one line first.
        report.verify_cause = f"{excinfo.typename}: {str(excinfo.value).splitlines()[0]}"
    found = item.stash.get(OUTCOME_KEY, None)
    if found is not None and report.when in ("setup", "call"):
        report.verify_outcome = found.to_dict()
    ctx = item.config.stash.get(CONTEXT_KEY, None)
    report.verify_facts = dict(ctx.facts) if ctx is not None else {}
    return report


def pytest_unconfigure(config: pytest.Config) -> None:
    plan = config.stash.get(PLAN_KEY, None)
    if plan is not None:
        plan.scratch.close()


def _teardown_on_sigterm() -> None:
    """Turn SIGTERM (CI cancel, ``timeout``) into an interrupt, so the server is removed."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, interrupt)
