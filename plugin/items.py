"""Checks as pytest items, built from the registry; the plugin owns every verdict.

Each ``verify/`` module is one area; :func:`checklist` gives it a test function per kind
of that area (``test_<kind name>``), which becomes one item per spec (and target).
A target's selected checks are run together, at the first of its items to be set up;
each item's report is then made from its check's Outcome, whatever the test body does:
could-not-check is a setup error, a violation a failure, not applicable a skip.
"""

from __future__ import annotations

import contextlib
import gc
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from checks.kinds import REGISTRY
from checks.kinds.base import AREAS, Kind, area_module
from checks.outcome import CouldNotCheck, Outcome, Status
from checks.run import Check, TargetRun
from plugin import guard
from plugin.plan import PLAN_KEY, Plan, make_plan, worker_input

OUTCOME_KEY = pytest.StashKey[Outcome]()
CHECK_KEY = pytest.StashKey[Check]()
SHOWN_KEY = pytest.StashKey[tuple[Outcome, dict[str, Any]]]()
"""The item's outcome and what reports show of it (redacted), made once for its reports."""
RUNS_KEY = pytest.StashKey["Runs"]()
SPREAD_KEY = pytest.StashKey[str]()
REFUSED_KEY = pytest.StashKey[str]()
"""A usage error found while collecting (the reports say it instead of a verdict)."""
MODULES_KEY = pytest.StashKey[dict[Path, pytest.Module]]()
"""Every test module collection started, by path (one that makes no item is among them)."""
NO_CHECK_MODES = ("setuponly", "setupplan")


def check(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make a ``verify/`` test function the checks of one kind (see ``checks.kinds``)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        function = pytest.mark.usefixtures("verify_check")(function)
        return pytest.mark.verify_kind(kind)(function)

    return decorate


def checklist(area: str, module: dict[str, Any]) -> None:
    """Add to a ``verify/`` module (its ``globals()``) the test function of every kind of
    ``area``: ``test_<kind name>``, whose docstring is the kind's. The body does nothing:
    the plugin runs the check and decides the verdict."""
    if area not in AREAS:
        raise ValueError(f"{area!r} is not an area (known: {', '.join(AREAS)})")
    for kind in (k for k in REGISTRY.values() if k.area == area):
        module[kind.item_name] = _test_function(kind, module["__name__"], module["__file__"])


def _test_function(kind: Kind, module: str, path: str) -> Callable[[], None]:
    def function() -> None:
        """The plugin's verdict stands, whatever a body would do."""

    # Named, documented and located as if written in the verify/ module (pytest shows
    # its file and line).
    function.__code__ = function.__code__.replace(co_filename=str(Path(path)),
                                                  co_firstlineno=1, co_name=kind.item_name)
    function.__name__ = function.__qualname__ = kind.item_name
    function.__doc__ = kind.doc
    function.__module__ = module
    return check(kind.name)(function)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    guard.at_registration(parser, pluginmanager)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    guard.at_configure(config)
    config.addinivalue_line("markers", "verify_kind(name): the items of one kind of check")
    plan = config.stash[PLAN_KEY] = make_plan(config)
    config.stash[RUNS_KEY] = Runs(plan)
    if not hasattr(config, "workerinput"):
        _spread_targets(config, plan)
        _teardown_on_sigterm()


def _spread_targets(config: pytest.Config, plan: Plan) -> None:
    """``-n``: one target's checks share one catalog capture and one scan per table, so
    they stay in one process; several targets are spread over processes."""
    if config.getoption("dist", "no") == "no":
        return
    if len(plan.targets) < 2:
        config.option.dist, config.option.tx = "no", []
        config.stash[SPREAD_KEY] = "one target: checks run in this process (-n ignored)"
    else:
        config.option.tx = config.option.tx[: len(plan.targets)]
        config.stash[SPREAD_KEY] = f"{len(config.option.tx)} processes, a target each"


@pytest.hookimpl(optionalhook=True)  # pytest-xdist is optional
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Each target's items to one worker, whole. xdist's own grouping cannot do it from a
    plugin: ``--dist loadgroup`` set at configure reaches the controller, not the workers
    (they read their command line again), and pytest 9.2 keeps them from marking the node
    ids it relies on (pytest-xdist #1386); so the target is read from the item's id."""
    if SPREAD_KEY not in config.stash:
        return None
    from xdist.scheduler import LoadScopeScheduling

    labels = {t.label for t in config.stash[PLAN_KEY].targets}

    class ByTarget(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return target_of(nodeid, labels) or nodeid

    return ByTarget(config, log)


def target_of(nodeid: str, labels: set[str]) -> str | None:
    """The target an item's id names (``test_kind[label:name]``), if one of ``labels``."""
    _, _, param = nodeid.partition("[")
    named = [label for label in labels if param.startswith(f"{label}:")]
    return max(named, key=len) if named else None  # a label may hold ':' (host:port)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist is optional
def pytest_configure_node(node: Any) -> None:
    """xdist: workers get the resolved targets (they cannot see the libpq environment)."""
    node.workerinput["verify_targets"] = worker_input(node.config.stash[PLAN_KEY])


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Any:
    """A kind with no entries in the config has no checks: its function makes no item (so
    pytest's "collected N items" counts the checks, not the kinds without any)."""
    kinds = [m.args[0] for m in getattr(obj, "pytestmark", ()) if m.name == "verify_kind"]
    if kinds and callable(obj) and not collector.config.stash[PLAN_KEY].checks(kinds[0]):
        return []
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    mark = metafunc.definition.get_closest_marker("verify_kind")
    if mark is None:
        return
    checks = metafunc.config.stash[PLAN_KEY].checks(mark.args[0])
    metafunc.parametrize("verify_check", checks, ids=[c.id for c in checks], indirect=True)


def pytest_collectstart(collector: pytest.Collector) -> None:
    if isinstance(collector, pytest.Module):
        collector.config.stash.setdefault(MODULES_KEY, {})[collector.path] = collector


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if refused := _uncollected_kind(config.stash[PLAN_KEY], items,
                                    config.stash.get(MODULES_KEY, {})):
        config.stash[REFUSED_KEY] = refused
        raise pytest.UsageError(refused)
    for item in items:
        if hasattr(item, "callspec"):
            found = item.callspec.params.get("verify_check")
            if isinstance(found, Check):
                item.stash[CHECK_KEY] = found


def _uncollected_kind(plan: Plan, items: list[pytest.Item],
                      modules: dict[Path, pytest.Module]) -> str | None:
    """Why the run cannot go on, if a kind the config has entries of has no item function
    in its area's ``verify/`` module although that module was collected (in whole, by node
    id, or making no item at all: the function is looked up in the module), or has no
    module in the folder collected: its entries would go unchecked, the run merely
    partial, with no cause given."""
    for folder in {i.path.parent for i in items if i.get_closest_marker("verify_kind")}:
        for kind in REGISTRY.values():
            module = folder / f"{area_module(kind.area)}.py"
            if module in modules:
                try:
                    if _makes(modules[module].obj, kind.name, kind.item_name):
                        continue
                except Exception:  # its import failed: the collection error says so
                    continue
            elif module.is_file():
                continue  # its module left out by the command line
            if checks := plan.checks(kind.name):
                what = "has no " + kind.item_name if module.is_file() else "does not exist"
                return (f"{folder.name}/{module.name} {what}, so {len(checks)} "
                        f"{kind.item_name} check(s) would not run: make its items with "
                        f"checklist({kind.area!r}, globals())")
    return None


def _makes(module: Any, kind: str, item_name: str) -> bool:
    """Whether a ``verify/`` module defines the kind's item function (marked with it)."""
    function = getattr(module, item_name, None)
    return any(m.name == "verify_kind" and m.args == (kind,)
               for m in getattr(function, "pytestmark", []))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[RUNS_KEY].select(
        [i.stash[CHECK_KEY] for i in session.items if CHECK_KEY in i.stash])


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """In one process, each target's checks run before the first item is reported, so that
    what answered (a primary, a standby and its lag) is among the run's first lines."""
    config = session.config
    if (config.getoption("dist", "no") == "no" and not hasattr(config, "workerinput")
            and not config.option.collectonly
            and not any(config.getoption(mode, False) for mode in NO_CHECK_MODES)
            and not (session.testsfailed and not config.option.continue_on_collection_errors)):
        config.stash[RUNS_KEY].run_all()
    return (yield)


@pytest.fixture
def verify_check(request: pytest.FixtureRequest) -> Iterator[Check]:
    """Run the item's check (with every selected check of its target, the first time);
    could-not-check raises here, so pytest reports it as an error."""
    found: Check = request.param
    config = request.config
    if any(config.getoption(mode, False) for mode in NO_CHECK_MODES):
        yield found  # pytest runs no test in these modes: no check runs, no verdict
        return
    outcome = config.stash[RUNS_KEY].outcome(found)
    request.node.stash[OUTCOME_KEY] = outcome
    if outcome.status is Status.ERROR:
        raise CouldNotCheck(outcome.message, blocked_by=outcome.blocked_by)
    if outcome.status in (Status.SKIPPED, Status.ACCEPTED):
        pytest.skip(outcome.message)
    yield found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    found = item.stash.get(OUTCOME_KEY, None)
    if found is None or report.when == "teardown":
        return report
    made_of, shown = item.stash.get(SHOWN_KEY, (None, {}))
    if made_of is not found:  # made at setup, reused by call
        shown = _redacted(found.to_dict(), item.config.stash[PLAN_KEY].redact)
        item.stash[SHOWN_KEY] = (found, shown)
    report.verify_outcome = shown
    report.verify_area = item.stash[CHECK_KEY].kind.area
    report.verify_facts = item.config.stash[RUNS_KEY].facts
    report.verify_roles = item.config.stash[RUNS_KEY].roles
    message = report.verify_outcome["message"]  # redacted: junit.xml writes longrepr
    if report.when == "setup" and found.status is Status.ERROR:
        report.longrepr = f"could not check: {message}"
    elif report.when == "call":
        # The verdict is the check's, whatever the test body did.
        if found.status is Status.FAILED:
            report.outcome, report.longrepr = "failed", message
        else:
            report.outcome, report.longrepr = "passed", None
    return report


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """Every text in an outcome without the run's secrets (some are only known here, in
    the process that read them)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value


class Runs:
    """One TargetRun per target; each runs its selected checks once, on first need."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.selected: list[Check] = []
        self._runs: dict[str, Any] = {}
        self._outcomes: dict[Check, Outcome] = {}
        self.facts: dict[str, str] = {}
        self.roles: dict[str, dict[str, Any]] = {}
        """Each reached target's role and replica state, by label (summary.json's replica)."""
        self.announce: Callable[[dict[str, dict[str, Any]]], None] | None = None
        """Told each target's role as soon as it answered (the console, in this process)."""

    def select(self, checks: list[Check]) -> None:
        self.selected = checks

    def run_all(self) -> None:
        """Every selected check, target by target (otherwise each target's run starts at
        its first item)."""
        firsts = {c.target.label: c for c in reversed(self.selected)}
        for found in reversed(firsts.values()):
            self.outcome(found)

    def outcome(self, found: Check) -> Outcome:
        if found not in self._outcomes:
            label = found.target.label
            run = self._runs.get(label)
            if run is None:
                run = self._runs[label] = self._runner(found)
            mine = [c for c in self.selected if c.target == found.target] or [found]
            self._outcomes.update(run.run(mine if found in mine else [*mine, found]))
            for key, value in run.facts_shown.items():
                self.facts[f"{label} {key}".strip()] = value
            if run.replica is not None and label not in self.roles:
                self.roles[label] = run.replica.to_dict()
                if self.announce is not None:
                    self.announce({label: self.roles[label]})
        return self._outcomes[found]

    def _runner(self, found: Check) -> Any:
        """The target's run; with ``--self-test``, its self-test (on copies, not on it)."""
        if found.target.self_test:
            from checks.selftest.run import SelfTest

            return SelfTest(found.target, self.plan.resources, self.plan.lab)
        return TargetRun(found.target, self.plan.resources)

    def close(self) -> None:
        try:
            for run in self._runs.values():
                run.close()
            if "lab" in self.plan.__dict__:  # made only by a self-test
                self.plan.lab.close()
        finally:
            self.plan.resources.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    runs = config.stash.get(RUNS_KEY, None)
    if runs is not None:
        runs.close()
    # pytest then collects garbage twice to surface unraisable exceptions, walking every
    # object the imports made (a tenth of a second); the process is about to exit.
    gc.freeze()


def _teardown_on_sigterm() -> None:
    """Turn SIGTERM (CI cancel, ``timeout``) into an interrupt, so servers are removed."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, interrupt)
