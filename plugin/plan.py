"""What this run verifies, decided before any SQL runs: config, targets, inputs, reports.

Any problem is one usage error line (exit 4), and it replaces the reports of an earlier
run with an error summary, so nothing stale can pass for this run's result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from checks import manifest
from checks.clients.aws import AwsClients
from checks.config import Config, ConfigError, duration_ms
from checks.context import Inputs
from checks.infra.cluster import Engine
from checks.infra.expected import Expected
from checks.infra.scratch import Servers
from checks.kinds import REGISTRY, load_config
from checks.migrations import discover
from checks.redact import Redactor
from checks.reporting import attach, files, metrics
from checks.reporting.attach import Ticket
from checks.reporting.files import write_together
from checks.reporting.model import report_title
from checks.run import Check, Resources
from checks.targets import TargetSpec, pg_bin, resolve, self_test_targets
from checks.targets.postgres import dsn_password
from checks.upload import Destination, parse_destination

PLAN_KEY = pytest.StashKey["Plan"]()
REPORT_FILES = ("report.html", "junit.xml", "summary.md", "summary.json", "metrics.prom")
_WORKER_TARGETS = "verify_targets"


@dataclass
class Plan:
    """Everything decided before any SQL runs."""

    config: Config
    targets: list[TargetSpec]
    resources: Resources
    release: str | None
    reports_dir: Path
    started_at: datetime
    redact: Redactor
    upload: Destination | None = None
    pushgateway: str | None = None
    tickets: list[Ticket] = field(default_factory=list)
    self_test: bool = False
    """``--self-test``: prove each selected invariant can fail (no target is touched)."""
    _specs: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def inputs(self) -> Inputs:
        return self.resources.inputs

    @property
    def run_id(self) -> str:
        """``20261125T141122123Z`` (UTC, to the millisecond) plus the release, for file
        names and S3 prefixes."""
        when = self.started_at
        stamp = when.strftime("%Y%m%dT%H%M%S") + f"{when.microsecond // 1000:03d}Z"
        release = re.sub(r"[^A-Za-z0-9._-]+", "-", self.release or "").strip("-")
        return f"{stamp}-{release}" if release else stamp

    def checks(self, kind: str) -> list[Check]:
        """The items of one kind: each of its specs on each target."""
        if kind not in REGISTRY:
            raise pytest.UsageError(f"unknown kind of check {kind!r} (known: "
                                    f"{', '.join(REGISTRY)})")
        if kind not in self._specs:
            self._specs[kind] = REGISTRY[kind].specs(self.inputs)
        found = REGISTRY[kind]
        specs = self._specs[kind]
        return [Check(found, spec, target) for target in self.targets
                for spec in (self.config.for_environment(target.env_name, found.section, specs)
                             if found.section else specs)]

    @cached_property
    def total(self) -> int:
        """How many checks the config defines for these targets (selected or not)."""
        return sum(len(self.checks(kind)) for kind in REGISTRY)

    @cached_property
    def lab(self) -> Any:
        """What the self-test shares: the base database and its copies, the local AWS."""
        from checks.selftest.run import Lab

        return Lab(self.resources)

    @cached_property
    def upload_clients(self) -> AwsClients:
        """AWS clients for the report upload: the config's region and the standard chain."""
        return AwsClients(self.config.aws.region)

    @property
    def target_keys(self) -> list[str]:
        """Each target as its last full pass is kept: kind, environment and name."""
        return [t.key for t in self.targets]

    def target_line(self) -> str:
        return "; ".join(f"{t.kind} {t.name} (chosen by {t.chosen_by})" for t in self.targets)


def _given(option: str | None, flag: str, variable: str) -> str | None:
    """An option, else its variable; either given empty is a usage error, never the
    default (an unset secret or path in a CI job must not pass for the default)."""
    if option is not None:
        if not option.strip():
            raise ConfigError(f"{flag} was given an empty value")
        return option
    value = os.environ.get(variable)
    if value is not None and not value.strip():
        raise ConfigError(f"{variable} is set but empty")
    return value


def make_plan(pytest_config: pytest.Config) -> Plan:
    """Read options, environment and config file; any problem is a one-line UsageError."""
    opt = pytest_config.getoption
    root = pytest_config.rootpath
    worker = getattr(pytest_config, "workerinput", None)
    reports_dir = Path(opt("reports_dir") or root / "reports")
    redact = Redactor.from_environment(os.environ)
    if worker is None:
        _prepare_reports_dir(reports_dir)
    try:
        _no_cache_options(pytest_config)
        config_path = Path(opt("verify_config") or root / "verify" / "invariants.toml")
        migrations_dir = _given(opt("migrations_dir"), "--migrations-dir",
                                "VERIFY_MIGRATIONS_DIR")
        cfg = load_config(config_path, Path(migrations_dir) if migrations_dir else None)
        self_test = bool(opt("self_test"))
        if self_test:
            _refuse_with_self_test(opt)
        if worker is not None and _WORKER_TARGETS in worker:
            targets = [TargetSpec(**t) for t in json.loads(worker[_WORKER_TARGETS])]
        elif self_test:
            targets = self_test_targets(cfg, os.environ, dsn=opt("dsn") or (),
                                        via_lambda=opt("via_lambda") or (),
                                        env_name=opt("env_name") or (),
                                        read_only=opt("read_only"))
        else:
            wants_aws = opt("aws") or (_manifest_needs_aws(opt("release_manifest")) or None)
            targets = resolve(cfg, os.environ, dsn=opt("dsn") or (),
                              via_lambda=opt("via_lambda") or (), env_name=opt("env_name") or (),
                              read_only=opt("read_only"), aws=wants_aws)
        bin_dir = pg_bin(opt("pg_bin"))
        snapshot = cfg.path.parent / cfg.drift.snapshot if cfg.drift.snapshot else None
        if snapshot is not None and not snapshot.is_file():
            raise ConfigError(f"drift.snapshot: no such file: {cfg.drift.snapshot}")
        migrations = discover(cfg.migrations_dir, cfg.ledger.order)
        release_manifest = (manifest.load(Path(opt("release_manifest")))
                            if opt("release_manifest") else None)
        settle_s = _settle(opt("settle"))
        upload = parse_destination(opt("upload"), opt("upload_expiry")) if opt("upload") else None
        pushgateway = _pushgateway(opt("pushgateway"))
        tickets = [attach.parse(value, os.environ) for value in opt("attach") or ()]
        for target in targets:
            redact.add(dsn_password(target.conninfo or ""))
            if target.aws and not target.self_test:  # a self-test's AWS is a local stand-in
                AwsClients(target.aws_region, target.aws_profile).require()
        if upload is not None:
            AwsClients(cfg.aws.region).require()
    except ConfigError as exc:
        if worker is None:
            write_usage_error(reports_dir, redact(str(exc)), self_test=bool(opt("self_test")))
        raise pytest.UsageError(redact(str(exc))) from None
    _clear_libpq_environment()
    engine = Engine((bin_dir or _default_bin()).resolve())
    servers = Servers(engine)
    inputs = Inputs(cfg, migrations, Expected(migrations, cfg.settings, servers, snapshot),
                    release_manifest)
    return Plan(
        config=cfg,
        targets=targets,
        resources=Resources(inputs, servers, pg_bin=Engine(bin_dir.resolve()) if bin_dir else None,
                            hide=redact.add, settle_s=settle_s, reports_dir=reports_dir,
                            deep=bool(opt("deep"))),
        release=(opt("release") or os.environ.get("VERIFY_RELEASE")
                 or (release_manifest.release if release_manifest else None) or None),
        reports_dir=reports_dir,
        started_at=datetime.now(UTC),
        redact=redact,
        upload=upload,
        pushgateway=pushgateway,
        tickets=tickets,
        self_test=self_test,
    )


_CACHE_OPTIONS = {"lf": "--lf", "failedfirst": "--ff", "newfirst": "--nf",
                  "stepwise": "--sw", "stepwise_skip": "--sw-skip",
                  "stepwise_reset": "--sw-reset", "cacheshow": "--cache-show",
                  "cacheclear": "--cache-clear"}


def _no_cache_options(pytest_config: pytest.Config) -> None:
    """pytest accepts its cache's options while the cache is off (``-p no:cacheprovider``
    in pytest.ini: a verdict never rests on an earlier run's), and then runs every check."""
    if not pytest_config.pluginmanager.is_blocked("cacheprovider"):
        return
    for dest, flag in _CACHE_OPTIONS.items():
        if pytest_config.getoption(dest, None):
            raise ConfigError(f"{flag} needs pytest's cache, which is off for this suite "
                              "(-p no:cacheprovider in pytest.ini: a verdict never rests on an "
                              "earlier run); select checks with -k or node ids")


_NOT_WITH_SELF_TEST = (
    ("release_manifest", "--release-manifest",
     "it proves the invariants file; a release's entries are a deploy's, not invariants"),
    ("settle", "--settle", "nothing converges on a copy"),
    ("upload", "--upload", "nothing leaves this machine in a self-test"),
    ("attach", "--attach", "nothing leaves this machine in a self-test"),
    ("pushgateway", "--pushgateway",
     "nothing leaves this machine in a self-test (its verdict is not the target's health)"),
)


def _refuse_with_self_test(opt: Any) -> None:
    for dest, option, why in _NOT_WITH_SELF_TEST:
        if opt(dest):
            raise ConfigError(f"{option} cannot go with --self-test: {why}")


def worker_input(plan: Plan) -> str:
    """The resolved targets, for xdist workers (they do not see the libpq environment)."""
    return json.dumps([asdict(t) for t in plan.targets])


def _settle(value: str | None) -> float:
    if value is None:
        return 0.0
    try:
        return duration_ms(value) / 1000
    except ConfigError as exc:
        raise ConfigError(f"--settle: {exc}") from None


def _manifest_needs_aws(path: str | None) -> bool:
    """A manifest naming Lambda functions or ECS services turns the AWS checks on."""
    try:
        return bool(path) and manifest.load(Path(path)).needs_aws
    except ConfigError:
        return False  # reported once, where the manifest is loaded


def _pushgateway(url: str | None) -> str | None:
    if url is None:
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--pushgateway {url!r}: expected http(s)://host:port")
    return url


def _default_bin() -> Path:
    from checks.infra.cluster import default_bin_dir

    return default_bin_dir()


def _prepare_reports_dir(reports_dir: Path) -> None:
    """The reports folder must be writable; the previous run's reports go now, so that a
    run that ends early cannot leave them standing for its own."""
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
        probe = reports_dir / ".ops-verify-write-test"
        probe.write_text("")
        probe.unlink()
        for name in REPORT_FILES:
            (reports_dir / name).unlink(missing_ok=True)
        files.sweep(reports_dir)
    except OSError as exc:
        raise pytest.UsageError(f"--reports-dir {reports_dir}: not writable ({exc.strerror})"
                                ) from None


def command_line(config: pytest.Config) -> list[str]:
    """The arguments as given: ``PYTEST_ADDOPTS``, then the command line."""
    return [*shlex.split(os.environ.get("PYTEST_ADDOPTS", "")), *config.invocation_params.args]


def stale_reports_dir(config: pytest.Config, parser: pytest.Parser | None = None) -> Path:
    """The reports folder the arguments name, read before pytest accepted them (also when
    the suite's options were never added), else the default."""
    args = command_line(config)
    given = getattr(parser.parse_known_args(args), "reports_dir", None) if parser else None
    if given is None:
        alone = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
        alone.add_argument("--reports-dir")
        given = alone.parse_known_args(args)[0].reports_dir
    return Path(given) if given else config.rootpath / "reports"


def replace_stale_reports(config: pytest.Config, parser: pytest.Parser) -> None:
    """At pytest's cleanup: a run refused before the plan was built (an unknown option, a
    plugin that failed to load) replaces the previous run's reports with its error too."""
    failure = sys.exc_info()[1]
    if failure is None or PLAN_KEY in config.stash or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    reports_dir = stale_reports_dir(config, parser)
    self_test = bool(getattr(parser.parse_known_args(command_line(config)), "self_test", False))
    lines = str(failure).splitlines() or [type(failure).__name__]
    # argparse's message is "usage: ..." then "pytest: error: <what>"
    message = next((line for line in lines if " error: " in line), lines[0])
    head, found, rest = message.partition("unrecognized arguments: ")
    if found:  # the values (a DSN with its password, say) stay out of the files
        message = head + found + " ".join(a if a.startswith("-") else "…" for a in rest.split())
    if not isinstance(failure, pytest.UsageError):
        message = f"pytest could not start: {type(failure).__name__}: {message}"
    try:
        for name in REPORT_FILES:
            (reports_dir / name).unlink(missing_ok=True)
        if reports_dir.is_dir():
            write_usage_error(reports_dir, Redactor.from_environment(os.environ)(message),
                              self_test=self_test)
    except OSError:
        pass  # an unwritable folder was never written by an earlier run either


def write_usage_error(reports_dir: Path, message: str, *, self_test: bool = False) -> None:
    write_error_summary(reports_dir, f"Nothing was checked: usage error: {message}",
                        self_test=self_test, usage_error=message)


def write_error_summary(reports_dir: Path, text: str, last_success: float | None = None,
                        *, self_test: bool = False, **fields: Any) -> None:
    """An error summary (summary.json, summary.md, metrics.prom: outcome error) put in place
    together, if the folder takes them; ``fields`` are added to summary.json. A self-test's
    has no metrics.prom: its verdict is not the target's health, and the pager must not hear
    of it."""
    summary = {"outcome": "error", "target": None, "release": None,
               "started_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
               "duration_s": 0.0, "counts": {}, "selection": None, "checks": [], **fields}
    texts = {} if self_test else {
        reports_dir / "metrics.prom": metrics.text(metrics.error_only(last_success))}
    # nothing of it is left half-written; the console says what happened either way
    with contextlib.suppress(OSError):
        write_together({
            **texts,
            reports_dir / "summary.md": f"## {report_title(self_test)}: ERROR\n\n{text}\n",
            reports_dir / "summary.json": json.dumps(summary, indent=2) + "\n",
        }, last=reports_dir / "summary.json")


def _clear_libpq_environment() -> None:
    """Targets carry what they took from ``PG*`` variables; nothing else may read them (the
    throwaway servers and their clients would otherwise follow PGPORT, PGOPTIONS, ...)."""
    for name in [n for n in os.environ if n.startswith("PG")]:
        del os.environ[name]


__all__ = ["PLAN_KEY", "REPORT_FILES", "Plan", "make_plan", "worker_input"]
