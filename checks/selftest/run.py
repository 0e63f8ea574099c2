"""One target's self-test: every selected check against the faults its kind declares.

First the base: the expected database (:mod:`checks.selftest.base`), whose copy every
database check is run against once, unfaulted. Then each fault on a copy of its own (a
database copy, a copy of the migration files, an empty AWS account of the local stand-in),
and the checks that fault exists for run there through the ordinary run path
(:class:`checks.run.TargetRun`), concurrently. The outcomes are judged by
:mod:`checks.selftest.proof`. Nothing here touches a target.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from checks.config.model import Off
from checks.context import Inputs
from checks.gather import unexpected, wait_interruptibly
from checks.infra.expected import Expected
from checks.kinds.base import Unavailable
from checks.migrations import discover
from checks.outcome import CouldNotCheck, Outcome, Status, error
from checks.run import Check, Resources, TargetRun
from checks.selftest.base import BaseDatabase
from checks.selftest.faults import Base, DatabaseCopy, Fault, Faults, FilesCopy, NotProven
from checks.selftest.local_aws import LocalAws
from checks.selftest.proof import Attempt, judged
from checks.targets import TargetSpec

WORKERS = 4
"""Copies worked on at once (each runs its checks on its own small pool)."""
DEFAULT_REGION = "us-east-1"


class Lab:
    """What one self-test run shares: the base database and its copies, the local AWS,
    the folders of copied migration files."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.database = BaseDatabase(resources.inputs, resources.servers, resources.pg_bin)
        self.aws = LocalAws()
        self._folders: list[Path] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def files(self) -> FilesCopy:
        """A copy of the migration files, in a folder of the same name."""
        folder = Path(tempfile.mkdtemp(prefix="ops-verify-self-test-"))
        with self._lock:
            self._folders.append(folder)
        source = self.resources.inputs.config.migrations_dir
        target = folder / source.name
        shutil.copytree(source, target, symlinks=True)
        return FilesCopy(target)

    def number(self) -> int:
        with self._lock:
            return next(self._numbers)

    def close(self) -> None:
        try:
            self.aws.close()
        finally:
            for folder in self._folders:
                shutil.rmtree(folder, ignore_errors=True)


@dataclass
class _Job:
    """The faults applied to one copy, and the checks run there."""

    on: str
    faults: list[Fault] = field(default_factory=list)
    checks: list[tuple[Check, Fault]] = field(default_factory=list)


class SelfTest:
    """Runs the self-test of one target's selected checks (the target names an
    environment's version of the entries, never a database to touch)."""

    def __init__(self, spec: TargetSpec, resources: Resources, lab: Lab) -> None:
        self.spec = spec
        self.resources = resources
        self.lab = lab
        self.region = spec.aws_region or resources.inputs.config.aws.region or DEFAULT_REGION
        self.facts_shown: dict[str, str] = {}
        self.replica = None
        """A target's role: none here (the copies are the suite's own, and no target is
        reached)."""

    def run(self, checks: Iterable[Check]) -> dict[Check, Outcome]:
        checks = list(checks)
        own = {c: Check(c.kind, _always_active(c.spec), self.spec) for c in checks}
        pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="self-test")
        try:
            if any("aws" in c.kind.reads for c in checks):
                pool.submit(self._warm_aws)  # starts the local AWS while the base is built
            base = self._base(checks)
            plans = {c: self._plan(own[c], base) for c in checks if not _off(c.spec)}
            bases = self._base_runs(pool, checks, own, plans)
            jobs = [pool.submit(self._job, job) for job in self._jobs(checks, plans)]
            wait_interruptibly([*jobs, *bases])
        except BaseException:
            # Ctrl-C: nothing more starts, and the run ends now rather than when the checks
            # running on copies finish (the server's removal ends their sessions)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        attempts: dict[Check, list[Attempt]] = defaultdict(list)
        for future in jobs:
            for check, attempt in future.result():
                attempts[check].append(attempt)
        unfaulted = {c: o for future in bases for c, o in future.result().items()}
        self._facts(base)
        return {c: _not_planned(unfaulted.get(c)) if c not in plans else
                judged(unfaulted.get(c), plans[c], attempts[c]) for c in checks}

    def _base(self, checks: list[Check]) -> Base:
        """The expected database, when a selected check reads one."""
        if any(_reads_database(c) and not _off(c.spec) for c in checks):
            return self.lab.database.base()
        return Base(self.resources.inputs, CouldNotCheck("no database check is selected"))

    @staticmethod
    def _plan(check: Check, base: Base) -> Faults:
        """The faults the check's kind declares for it."""
        if check.kind.faults is None:
            return Faults()
        if getattr(check.spec, "severity", None) == "info":
            return Faults(not_applicable="figures only (severity info)")
        try:
            return check.kind.faults(check.spec, base)
        except NotProven as exc:
            return Faults(unproven=str(exc))
        except Exception as exc:  # a bug in one kind's plan must not stop the others
            return Faults(unproven=str(unexpected(exc)))

    def _facts(self, base: Base) -> None:
        expected = self.resources.inputs.expected
        if isinstance(base.found, CouldNotCheck):
            built = str(base.found)
        else:
            source = "the snapshot's schema" if expected.snapshot else "the migrations replayed"
            session = base.catalog.session
            built = f"{source} and the fixtures, on PostgreSQL " \
                    f"{session.server_version if session else '?'}"
        self.facts_shown["Self-test base"] = "; ".join([built, *self.lab.database.notes])

    def _warm_aws(self) -> None:
        with contextlib.suppress(NotProven):  # each AWS item says why
            self.lab.aws.account(self.region)

    # ---------------------------------------------------------------- the base
    def _base_runs(self, pool: ThreadPoolExecutor, checks: list[Check], own: dict[Check, Check],
                   plans: dict[Check, Faults]) -> list[Future[dict[Check, Outcome]]]:
        """Every check once without a fault: the database and file checks on one copy of
        the base together, each AWS check on its own healthy account."""
        runs = []
        local = [c for c in checks if "aws" not in c.kind.reads]
        if local:
            runs.append(pool.submit(self._unfaulted, [(c, own[c]) for c in local]))
        for check in checks:
            plan = plans.get(check)
            if "aws" in check.kind.reads and plan is not None:
                runs.append(pool.submit(self._on_account, check, own[check], plan.healthy))
        return runs

    # ---------------------------------------------------------------- the faults
    def _jobs(self, checks: list[Check], plans: dict[Check, Faults]) -> list[_Job]:
        """Faults grouped by copy: equal keys are one fault; one family shares a copy."""
        jobs: dict[Hashable, _Job] = {}
        for check in checks:
            plan = plans.get(check)
            if plan is None or plan.not_applicable or plan.unproven:
                continue
            for fault in plan.faults:
                group: Hashable = (("family", fault.family) if fault.family
                                   else ("key", fault.key) if fault.key is not None
                                   else ("one", id(fault)))
                job = jobs.setdefault(group, _Job(fault.on))
                if fault.key is None or all(f.key != fault.key for f in job.faults):
                    job.faults.append(fault)
                job.checks.append((check, fault))
        return list(jobs.values())

    def _job(self, job: _Job) -> list[tuple[Check, Attempt]]:
        try:
            if job.on == "files":
                return [self._on_files(check, fault) for check, fault in job.checks]
            if job.on == "aws":
                return [self._aws_fault(check, fault) for check, fault in job.checks]
            return self._database_fault(job)
        except Exception as exc:  # a bug, or a copy that cannot be made: every item errors
            cause = str(exc) if isinstance(exc, CouldNotCheck | NotProven) else \
                str(unexpected(exc))
            return [(check, Attempt(fault, problem=cause)) for check, fault in job.checks]

    def _database_fault(self, job: _Job) -> list[tuple[Check, Attempt]]:
        copy = self.lab.database.copy()
        try:
            problems: dict[Hashable, str] = {}
            injected: dict[Hashable, tuple[str, ...]] = {}
            shown: dict[Hashable, tuple[str, ...]] = {}
            shared = (f"-- on a copy shared with {len(job.faults) - 1} other fault(s) of the "
                      f"family '{job.faults[0].family}': each changes only what its own check "
                      "reads",) if len(job.faults) > 1 else ()
            for fault in job.faults:
                start = len(copy.statements)
                try:
                    injected[_identity(fault)] = tuple(fault.apply(copy) or ())
                except NotProven as exc:
                    problems[_identity(fault)] = str(exc)
                except Exception as exc:  # a bug in one fault must not take its family
                    problems[_identity(fault)] = str(unexpected(exc))
                shown[_identity(fault)] = (*copy.statements[start:], *shared)
            ready = [(c, f) for c, f in job.checks if _identity(f) not in problems]
            outcomes = self._run([Check(c.kind, _always_active(c.spec), self._copy_spec(copy))
                                  for c, _ in ready], self.resources)
        finally:
            self.lab.database.drop(copy)
        found = []
        for check, fault in job.checks:
            if _identity(fault) in problems:
                found.append((check, Attempt(fault, problem=problems[_identity(fault)],
                                             statements=shown[_identity(fault)])))
            else:
                found.append((check, Attempt(fault, outcomes[ready.index((check, fault))],
                                             statements=shown[_identity(fault)],
                                             injected=injected[_identity(fault)])))
        return found

    def _on_files(self, check: Check, fault: Fault) -> tuple[Check, Attempt]:
        """The check with the inputs of a faulted copy of the migration files."""
        files = self.lab.files()
        try:
            injected = tuple(fault.apply(files) or ())
            inputs = self._inputs_of(files.migrations_dir)
        except NotProven as exc:
            return check, Attempt(fault, problem=str(exc), statements=tuple(files.statements))
        spec = next((s for s in check.kind.specs(inputs) if s.id == check.spec.id), None)
        if spec is None:
            return check, Attempt(fault, problem="the faulted files have no such item",
                                  statements=tuple(files.statements))
        target = TargetSpec("ephemeral", "--self-test", self_test=True)
        outcome = self._run([Check(check.kind, spec, target)],
                            self.resources.derived(inputs=inputs))[0]
        return check, Attempt(fault, outcome, statements=tuple(files.statements),
                              injected=injected)

    def _inputs_of(self, migrations_dir: Path) -> Inputs:
        inputs = self.resources.inputs
        try:
            migrations = discover(migrations_dir, inputs.config.ledger.order)
        except ValueError as exc:  # ConfigError
            raise NotProven(f"the faulted files do not load: {exc}") from None
        expected = Expected(migrations, inputs.config.settings, self.resources.servers,
                            inputs.expected.snapshot, cache_dir=migrations_dir.parent / "cache",
                            database=f"ops_verify_self_test_replay_{self.lab.number()}")
        return Inputs(inputs.config, migrations, expected, inputs.manifest)

    def _aws_fault(self, check: Check, fault: Fault) -> tuple[Check, Attempt]:
        outcome, problem, shown, injected = self._in_account(check, fault.apply)
        return check, Attempt(fault, outcome, problem, shown, injected)

    def _on_account(self, check: Check, own: Check, healthy: Callable[[Any], None] | None
                    ) -> dict[Check, Outcome]:
        outcome, problem, _, _ = self._in_account(own, healthy)
        return {check: outcome or Outcome(Status.ERROR, problem or "not run")}

    def _in_account(self, check: Check, build: Callable[[Any], Any] | None
                    ) -> tuple[Outcome | None, str | None, tuple[str, ...], tuple[str, ...]]:
        try:
            account = self.lab.aws.account(self.region)
        except NotProven as exc:
            return None, str(exc), (), ()
        try:
            injected = tuple((build(account) if build is not None else None) or ())
        except NotProven as exc:
            return None, str(exc), tuple(account.statements), ()
        except Exception as exc:  # the stand-in refused a call: say which
            return None, f"the local AWS refused: {exc}", tuple(account.statements), ()
        target = TargetSpec("ephemeral", "--self-test", aws=True, aws_region=self.region,
                            self_test=True)
        outcome = self._run([Check(check.kind, _always_active(check.spec), target)],
                            self.resources.derived(aws=account.aws))[0]
        return outcome, None, tuple(account.statements), injected

    def _unfaulted(self, pairs: list[tuple[Check, Check]]) -> dict[Check, Outcome]:
        """Every database and file check on one copy of the base, unfaulted."""
        copy = None
        try:
            if any(_reads_database(c) for c, _ in pairs):
                copy = self.lab.database.copy()
            target = self._copy_spec(copy) if copy else TargetSpec(
                "ephemeral", "--self-test", self_test=True)
            outcomes = self._run([Check(o.kind, o.spec, target) for _, o in pairs],
                                 self.resources)
        except (CouldNotCheck, NotProven) as exc:
            return {c: error(CouldNotCheck(str(exc))) for c, _ in pairs}
        finally:
            if copy is not None:
                self.lab.database.drop(copy)
        return {c: outcomes[i] for i, (c, _) in enumerate(pairs)}

    def _copy_spec(self, copy: DatabaseCopy) -> TargetSpec:
        """The copy as a target: a DSN of the suite's own, with this target's settings."""
        return TargetSpec("dsn", "--self-test", conninfo=copy.conninfo, env_name=self.spec.env_name,
                          read_only=self.spec.read_only, aws=False, self_test=True)

    @staticmethod
    def _run(checks: list[Check], resources: Resources) -> list[Outcome]:
        """The checks through the ordinary run path, in order."""
        if not checks:
            return []
        run = TargetRun(checks[0].target, resources)
        try:
            found = run.run(checks)
        finally:
            run.close()
        return [found[c] for c in checks]

    def close(self) -> None:
        """Nothing of its own: the lab is the run's, closed with it (Runs.close)."""


def _identity(fault: Fault) -> Hashable:
    return fault.key if fault.key is not None else id(fault)


def _off(spec: Any) -> bool:
    return isinstance(spec, Off | Unavailable)


def _reads_database(check: Check) -> bool:
    return check.kind.reads_target or "expected" in check.kind.reads


def _not_planned(unfaulted: Outcome | None) -> Outcome:
    """A check the environment turns off (skipped), or whose items could not be listed
    (an error): as it was without a fault."""
    found = unfaulted or Outcome(Status.ERROR, "not run")
    if found.status is Status.ERROR:
        return replace(found, message=f"not proven: {found.message}")
    return found


def _always_active(spec: Any) -> Any:
    """The spec without its active window: whether a check can fail does not depend on
    the hour it runs."""
    if getattr(spec, "active", None) is not None:
        return replace(spec, active=None)
    return spec


__all__ = ["Lab", "SelfTest"]
