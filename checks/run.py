"""One target's run: open it, capture its catalog once, gather what the selected checks
need (merged, concurrently), and judge each check. No pytest here.

Could-not-check is decided once: a target that cannot be opened, or a catalog that cannot
be read, is the one cause of every check that needed it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.catalog import Catalog, capture, identify
from checks.catalog.model import Session
from checks.clients.aws import AwsClients
from checks.config import Settings, duration_ms
from checks.config.model import Off
from checks.gather import gather, unexpected
from checks.infra.cluster import Engine, default_cache_dir, find_engine
from checks.infra.normalize import Normalizer
from checks.infra.scratch import Servers
from checks.kinds.aws import OFF_REASON
from checks.kinds.base import Env, Facts, Inputs, Kind, Need, Unavailable
from checks.outcome import CouldNotCheck, Outcome, Status, error, skipped
from checks.replica import STANDBY_REASON, Replica, read_role
from checks.settle import Settling
from checks.targets import TargetSpec
from checks.targets.base import Target
from checks.watermarks import Store, store_file


@dataclass(frozen=True, eq=False)
class Check:
    """One item: a kind, one of its specs, on one target (compared by identity)."""

    kind: Kind
    spec: Any
    target: TargetSpec

    @property
    def id(self) -> str:
        """The item id: the spec's, prefixed with the target's label in multi-target runs."""
        return f"{self.target.label}:{self.spec.id}" if self.target.label else str(self.spec.id)


@dataclass
class Resources:
    """What the targets of one run share: inputs, throwaway servers, caches, AWS clients."""

    inputs: Inputs
    servers: Servers
    pg_bin: Engine | None = None
    cache_dir: Path | None = None
    hide: Callable[[str], None] = lambda secret: None
    """Hands a secret read at run time to the run's redactor."""
    settle_s: float = 0.0
    """How long converging checks are retried until they pass (``--settle``)."""
    reports_dir: Path | None = None
    """Where what earlier runs proved is kept, per target (``checks.watermarks``)."""
    deep: bool = False
    """``--deep``: read every row; no proof, cached count or watermark spares it."""
    fixed_aws: AwsClients | None = None
    """The AWS clients of every target (the self-test's account of the local stand-in)."""
    _normalizer: Normalizer | None = None
    _aws: dict[tuple[str | None, str | None], AwsClients] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.inputs.config.settings

    @property
    def normalizer(self) -> Normalizer:
        if self._normalizer is None:
            engine = self.servers.default_engine
            cache = (self.cache_dir or default_cache_dir()) / "normalized" / f"{engine.key}.json"
            self._normalizer = Normalizer(self._normalizing_database, cache,
                                          self.inputs.expected.schema_key(engine))
        return self._normalizer

    def _normalizing_database(self, user_types: bool) -> str:
        if user_types:
            return self.inputs.expected.replay_database()
        return self.servers.get().conninfo()

    def proofs(self, spec: TargetSpec) -> Store:
        """The target's store of earlier runs' proofs. The embedded default is built anew
        each run (same oids, perhaps other rows): nothing is remembered for it."""
        path = (store_file(self.reports_dir, spec.key) if self.reports_dir is not None
                and spec.kind != "ephemeral" else None)
        store = Store.load(path, spec.key, deep=self.deep,
                           deep_every_s=duration_ms(self.settings.deep_every) / 1000)
        if spec.kind == "ephemeral":
            store.problem = "the embedded default is built anew each run"
        return store

    def derived(self, *, inputs: Inputs | None = None, aws: AwsClients | None = None
                ) -> Resources:
        """These resources with other inputs (copied migration files) or AWS clients, the
        rest shared (servers, normalizer): for one self-test copy; never closed itself (and
        remembering no proof: each copy is built anew)."""
        return replace(self, inputs=inputs or self.inputs, settle_s=0.0, fixed_aws=aws,
                       _normalizer=self.normalizer, _aws={}, reports_dir=None)

    def aws(self, spec: TargetSpec) -> AwsClients:
        if self.fixed_aws is not None:
            return self.fixed_aws
        key = (spec.aws_region, spec.aws_profile)
        if key not in self._aws:
            self._aws[key] = AwsClients(*key)
        return self._aws[key]

    def close(self) -> None:
        try:
            if self._normalizer is not None:
                self._normalizer.close()
        finally:
            self.servers.close()


def open_target(spec: TargetSpec, resources: Resources) -> Target:
    """Connect to (or build, on the run's throwaway server) the target."""
    settings = resources.settings
    if spec.kind == "dsn":
        from checks.targets.postgres import PostgresTarget, display_name

        conninfo = spec.conninfo
        if conninfo is None and spec.secret:
            from checks.targets import secrets

            conninfo = secrets.dsn(spec.ssm_prefix, spec.secret, resources.aws(spec),
                                   resources.hide)
        # a self-test's copy is the suite's own: nobody else's session waits on its locks
        return PostgresTarget(conninfo or "", settings, probe_block=spec.probe_block,
                              name=display_name(conninfo or ""), watch=not spec.self_test)
    if spec.kind == "lambda":
        from checks.targets.lambda_proxy import LambdaTarget

        return LambdaTarget(spec.function or "", settings, resources.aws(spec),
                            _proxy_timeout(settings))
    from checks.targets import ephemeral

    config = resources.inputs.config
    fixtures = sorted(config.fixtures_dir.glob("*.sql")) if config.fixtures_dir.is_dir() else []
    return ephemeral.start(resources.inputs.migrations, fixtures, settings,
                           resources.servers.get(), probe_block=spec.probe_block)


_SAMPLED = (Status.PASSED, Status.FAILED, Status.ERROR)


def _proxy_timeout(settings: Settings) -> float | None:
    return duration_ms(settings.proxy_timeout) / 1000 if settings.proxy_timeout else None


class TargetRun:
    """Everything one target's selected checks need, gathered once, then judged."""

    def __init__(self, spec: TargetSpec, resources: Resources) -> None:
        self.spec = spec
        self.resources = resources
        self.target: Target | None = None
        self.catalog: Catalog | None = None
        self.facts_shown: dict[str, str] = {}
        """What was learned about the target (server version, database), for the report."""
        self.replica: Replica | None = None
        """Its role and, for a standby, its lag (None until it answered)."""
        self.unusable = False
        """Opened, but nothing it shows may be judged (wrong database, stale standby...)."""

    def run(self, checks: Iterable[Check]) -> dict[Check, Outcome]:
        checks = list(checks)
        now = datetime.now(UTC)
        outcomes: dict[Check, Outcome] = {}
        live: list[Check] = []
        for check in checks:
            if isinstance(check.spec, Unavailable):
                outcomes[check] = Outcome(Status.ERROR, check.spec.error,
                                          blocked_by=check.spec.blocked_by)
            elif isinstance(check.spec, Off):
                outcomes[check] = skipped(check.spec.reason)
            elif (schedule := getattr(check.spec, "active", None)) and not schedule.active_at(now):
                outcomes[check] = skipped(f"outside its active window ({schedule.describe()})")
            else:
                live.append(check)
        facts = Facts(self.resources.settings, now, self.resources.inputs,
                      target_name=self.spec.name, probe_block=self.spec.probe_block,
                      aws_off=None if self.spec.aws else OFF_REASON)
        env = Env(self.resources.settings, now=now, expected=self.resources.inputs.expected,
                  aws=self.resources.aws(self.spec) if self.spec.aws else None,
                  proofs=self.resources.proofs(self.spec))
        workers = (self.target.concurrency if self.target else self.resources.settings.concurrency)
        with ThreadPoolExecutor(max_workers=workers + 2, thread_name_prefix="verify") as pool:
            early = [c for c in live if not c.kind.reads_target]
            wanted = self._needs(early, facts, outcomes)
            db = [c for c in live if c.kind.reads_target]
            if db:
                self._open(db, facts, env, outcomes)
                wanted += self._needs([c for c in db if c not in outcomes], facts, outcomes)
            if any(n.reads == "scratch" for n in wanted):
                env.normalizer = self.resources.normalizer
            facts.results = gather(wanted, env, pool)
            if env.proofs is not None:
                env.proofs.save()
            if self.target is not None and hasattr(self.target, "facts"):
                self.facts_shown.update(self.target.facts())
            for check in live:
                if check not in outcomes:
                    outcomes[check] = _judged(check, facts)
            if self.resources.settle_s > 0:
                self._settle([c for c in live if c.kind.converging], outcomes, facts, env, pool)
        return {c: outcomes[c] for c in checks}

    def _settle(self, converging: list[Check], outcomes: dict[Check, Outcome], facts: Facts,
                env: Env, pool: ThreadPoolExecutor) -> None:
        """Sample the checks of a converging state (rollouts, heartbeats) with backoff until
        each passed on consecutive samples (one good sample of a flapping value is not
        settled) or the window ends; each keeps how many attempts it took and when its
        passing began. Invariants of the schema and data are never retried."""
        start = time.monotonic()
        deadline = start + self.resources.settle_s
        usable = self.target is not None and not self.unusable
        sampled = [c for c in converging if outcomes[c].status in _SAMPLED
                   and (usable or not c.kind.reads_target)]
        settling = Settling()
        for check in sampled:
            settling.record(check, outcomes[check].status is Status.PASSED, 0.0,
                            outcomes[check].progress)
        delay = 1.0
        while (pending := settling.pending(sampled)) and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(delay, left))
            delay = min(delay * 2, 15.0)
            facts.now = env.now = datetime.now(UTC)
            retried: dict[Check, Outcome] = {}
            facts.results.update(gather(self._needs(pending, facts, retried), env, pool))
            for check in pending:
                outcomes[check] = retried.get(check) or _judged(check, facts)
                settling.record(check, outcomes[check].status is Status.PASSED,
                                time.monotonic() - start, outcomes[check].progress)
        for check in sampled:
            samples = settling.samples[check]
            if samples.unconfirmed:
                outcomes[check] = replace(
                    outcomes[check], status=Status.FAILED,
                    message=f"{outcomes[check].message}; but no later sample within the "
                    "settle window confirmed it (a heartbeat must also move on): not settled",
                ).with_severity(getattr(check.spec, "severity", "fail"))
            if samples.attempts > 1:
                outcomes[check] = replace(outcomes[check], attempts=samples.attempts,
                                          first_passed_s=samples.first_passed_s)

    def _open(self, db: list[Check], facts: Facts, env: Env,
              outcomes: dict[Check, Outcome]) -> None:
        """Open the target and capture its catalog; a failure is every db check's cause."""
        try:
            if self.target is None:
                self.target = open_target(self.spec, self.resources)
            env.target = self.target
            if any("catalog" in c.kind.reads for c in db):
                self.catalog = capture(self.target)
                session = self.catalog.session
                self.facts_shown["Server version"] = session.server_version if session else "?"
            else:
                session = identify(self.target)
            self._check_identity(session)
            self._check_replica(session, facts)
            if self.catalog is not None:
                facts._catalog = env.catalog = self.catalog
            if any("expected" in c.kind.reads for c in db):
                facts._expected, facts.expected_version = self._expected()
        except Exception as exc:  # CouldNotCheck, or a bug: either way the one cause
            cause = exc if isinstance(exc, CouldNotCheck) else unexpected(exc)
            self.unusable = True
            for check in db:
                outcomes.setdefault(check, error(cause))

    def _check_identity(self, session: Session | None) -> None:
        """The target answers for the expected database and, through a proxy, now."""
        if session is None:
            return
        self.facts_shown["Database"] = session.database
        if session.overridden:
            self.facts_shown["Timeouts"] = "; ".join(session.overridden)
        expected = self.spec.database
        if expected and session.database != expected:
            raise CouldNotCheck(f"{self.spec.name} answers for database {session.database!r}, "
                                f"but the environment expects {expected!r}")
        if self.spec.kind == "lambda":
            off = abs((datetime.fromisoformat(session.now) - datetime.now(UTC)).total_seconds())
            if off > duration_ms(self.resources.settings.proxy_clock_skew) / 1000:
                raise CouldNotCheck(
                    f"{self.spec.name} answered with the time {session.now}, {off:.0f}s from "
                    "this machine's clock: a cached or replayed answer, or a clock that is "
                    "off; nothing it says can be taken as current")

    def _check_replica(self, session: Session | None, facts: Facts) -> None:
        """A standby is named as one, cannot take probes, and must show the present: with
        replay paused, beyond ``max_replica_lag`` or with a lag nobody can know, every
        database check errors with that cause."""
        if session is None or self.target is None:
            return
        max_lag_s = duration_ms(self.resources.settings.max_replica_lag) / 1000
        self.replica = facts.replica = read_role(self.target, session, max_lag_s,
                                                 self.spec.name)
        self.facts_shown["Role"] = self.replica.describe()
        if self.replica.standby:
            facts.probe_block = self.target.probe_block = STANDBY_REASON
        if self.replica.problem:
            raise CouldNotCheck(self.replica.problem)

    def _expected(self) -> tuple[Catalog | CouldNotCheck, str]:
        """The expected catalog, replayed on the target's major version when its binaries
        are here (``--pg-bin``, or a usual install location)."""
        expected = self.resources.inputs.expected
        default = self.resources.servers.default_engine
        try:
            if expected.snapshot is not None:
                catalog = expected.catalog()
                return catalog, catalog.session.server_version if catalog.session else ""
            major = self.catalog.session.major if self.catalog and self.catalog.session else 0
            engine = default
            if (major and default.major != major
                    and self.resources.inputs.config.drift.match_target_version):
                engine = find_engine(major, prefer=self.resources.pg_bin) or default
            replayed = expected.replayed(engine)
            return replayed.catalog, replayed.engine_version
        except CouldNotCheck as exc:
            return exc, ""

    def _needs(self, checks: list[Check], facts: Facts,
               outcomes: dict[Check, Outcome]) -> list[Need]:
        wanted: list[Need] = []
        for check in checks:
            try:
                wanted += check.kind.needs(check.spec, facts)
            except CouldNotCheck as exc:
                outcomes[check] = error(exc)
            except Exception as exc:  # a bug in one kind must not stop the others
                outcomes[check] = error(unexpected(exc))
        return wanted

    def close(self) -> None:
        if self.target is not None:
            self.target.close()
            self.target = None


def _judged(check: Check, facts: Facts) -> Outcome:
    try:
        outcome = check.kind.judge(check.spec, facts)
    except CouldNotCheck as exc:
        outcome = error(exc)
    except Exception as exc:  # a bug in a check must not pass for a verdict
        outcome = error(unexpected(exc))
    return outcome.with_severity(getattr(check.spec, "severity", "fail"))
