"""A database whose address is kept in SSM parameters and whose credentials are kept in
Secrets Manager, as the real system keeps them: read when the target is opened, never
written anywhere, the password handed to the redactor at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from psycopg.conninfo import make_conninfo

from checks.clients.aws import AwsClients, call
from checks.outcome import CouldNotCheck

PARAMETERS = (("host", "db_host"), ("port", "db_port"), ("dbname", "db_name"))


def dsn(ssm_prefix: str | None, secret: str, clients: AwsClients,
        hide: Callable[[str], None]) -> str:
    """``host``, ``port``, ``dbname`` from ``<ssm_prefix>/db_host`` ... (or from the secret
    when there is no prefix); ``user`` and ``password`` from the secret's JSON."""
    values: dict[str, Any] = {}
    if ssm_prefix:
        ssm = clients.client("ssm")
        for key, name in PARAMETERS:
            parameter = f"{ssm_prefix.rstrip('/')}/{name}"
            found = call(lambda p=parameter: ssm.get_parameter(Name=p, WithDecryption=True),
                         f"cannot read SSM parameter {parameter}")
            values[key] = found["Parameter"]["Value"]
    answer = call(lambda: clients.client("secretsmanager").get_secret_value(SecretId=secret),
                  f"cannot read secret {secret}")
    try:
        document = json.loads(answer["SecretString"])
    except (KeyError, ValueError):
        raise CouldNotCheck(f"secret {secret} is not JSON with username and password") from None
    if not isinstance(document, dict) or not document.get("username") \
            or not document.get("password"):
        raise CouldNotCheck(f"secret {secret} has no username and password")
    hide(str(document["password"]))
    for key in ("host", "port", "dbname"):
        if key not in values and document.get(key):
            values[key] = document[key]
    missing = [key for key, _ in PARAMETERS if key not in values]
    if missing:
        raise CouldNotCheck(f"no {', '.join(missing)} for the database: give ssm_prefix, or "
                            f"keep them in secret {secret}")
    return make_conninfo(**{k: str(v) for k, v in values.items()},
                         user=str(document["username"]), password=str(document["password"]))
