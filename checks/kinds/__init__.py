"""The registry of kinds of check: each kind is one module (its spec, its needs, its judge).

``verify/`` holds one test function per kind, ``test_<kind name>``, and the plugin makes
one item per spec. Adding a kind: write its module, add it here, add its test function.
"""

from __future__ import annotations

from checks.kinds import (
    alarms,
    aws,
    check_constraints,
    custom_sql,
    drift,
    freshness,
    indexes,
    lambda_errors,
    ledger,
    log_errors,
    migration_files,
    release,
    schedules,
    unique,
    upserts,
)
from checks.kinds.base import Kind

REGISTRY: dict[str, Kind] = {k.name: k for k in (
    ledger.RECORDED, ledger.UNKNOWN, ledger.IN_ORDER,
    migration_files.DISTINCT, migration_files.REPLAYS,
    drift.SCHEMA_OBJECT, drift.NO_UNEXPECTED,
    check_constraints.DEFINITION, check_constraints.ENFORCED,
    unique.UNIQUE, upserts.UPSERTS, indexes.PRESENT, indexes.HEALTH, custom_sql.CUSTOM_SQL,
    freshness.FRESHNESS, aws.ECS, aws.LOGS,
    schedules.SCHEDULE_ENABLED, alarms.ALARM_NOT_FIRING, log_errors.LOG_ERRORS,
    lambda_errors.LAMBDA_ERRORS,
    release.LAMBDA, release.ECS, release.MIGRATION,
)}
"""Every kind by name, in the order areas are read."""
