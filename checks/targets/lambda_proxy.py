"""The database through the read-only db-query Lambda (``--via-lambda FUNCTION``).

Request: ``{"sql": "SELECT ..."}`` (values inlined as SQL literals, identifiers quoted).
Accepted answers: ``{"statusCode": 200, "body": <object or JSON text>}`` or the object
itself, where the object has ``rows`` (a list of objects, or of lists with ``columns``) and
no ``error`` / ``"success": false``. Anything else is a could-not-check, never an empty result.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from psycopg import sql

from checks.config import Settings, duration_ms
from checks.outcome import CouldNotCheck
from checks.targets.base import Params, ProbeResult, QueryError, Rows, Statement

PROBE_BLOCK = "the db-query Lambda is read-only: write probes cannot run through it"
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


def render_sql(statement: Statement, params: Params = None) -> str:
    """SQL text with parameters inlined as literals (psycopg quoting, no connection)."""
    text = statement if isinstance(statement, str) else statement.as_string(None)
    positional = iter(params) if isinstance(params, list | tuple) else iter(())

    def literal(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(1) is not None:
            assert isinstance(params, Mapping)
            value = params[match.group(1)]
        else:
            value = next(positional)
        return sql.Literal(value).as_string(None)

    # Like psycopg: placeholders and %% escapes are processed only when params are given.
    return _PLACEHOLDER.sub(literal, text) if params is not None else text


class LambdaTarget:
    """Queries sent to the proxy Lambda, one synchronous invocation each, never retried."""

    kind = "lambda"
    probe_block = PROBE_BLOCK

    def __init__(self, function: str, settings: Settings, *, region: str | None = None,
                 profile: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.name = function
        self._function = function
        timeout_s = duration_ms(settings.statement_timeout) / 1000
        config = Config(
            connect_timeout=max(1, duration_ms(settings.connect_timeout) // 1000),
            read_timeout=timeout_s + 10,
            retries={"total_max_attempts": 1},  # a retried read timeout would run it again
        )
        try:
            # botocore itself reads AWS_DEFAULT_REGION only; the interface promises AWS_REGION.
            region = region or os.environ.get("AWS_REGION") or None
            session = boto3.Session(profile_name=profile, region_name=region)
            self._client = session.client("lambda", config=config)
        except Exception as exc:  # botocore raises many unrelated types for bad settings
            raise CouldNotCheck(f"cannot set up the Lambda client: {exc}") from None

    def query(self, statement: Statement, params: Params = None) -> Rows:
        payload = json.dumps({"sql": render_sql(statement, params)})
        try:
            response = self._client.invoke(FunctionName=self._function,
                                           InvocationType="RequestResponse", Payload=payload)
            raw = response["Payload"].read()
        except Exception as exc:  # botocore: ClientError, EndpointConnectionError, timeouts...
            raise CouldNotCheck(f"invoking {self._function} failed: "
                                f"{str(exc).splitlines()[0]}") from None
        if response.get("FunctionError"):
            raise CouldNotCheck(f"{self._function} raised {response['FunctionError']}: "
                                f"{raw[:300].decode(errors='replace')}")
        return _rows(self._function, _decode(self._function, raw))

    def probe(self, statement: Statement, params: Params = None) -> ProbeResult:
        raise CouldNotCheck(PROBE_BLOCK)

    def render(self, statement: Statement, params: Params = None) -> str:
        return render_sql(statement, params)

    def server_version(self) -> str:
        return str(self.query("SELECT current_setting('server_version') AS v").scalar())

    def close(self) -> None:
        self._client.close()


def _decode(function: str, raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw)
    except ValueError:
        raise CouldNotCheck(f"{function} answered with something that is not JSON: "
                            f"{raw[:200].decode(errors='replace')!r}") from None
    if isinstance(answer, dict) and "statusCode" in answer:
        status, body = answer["statusCode"], answer.get("body")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                raise CouldNotCheck(f"{function}: body is not JSON: {body[:200]!r}") from None
        if status != 200:
            detail = body.get("error") if isinstance(body, dict) else body
            raise QueryError(f"{function} answered HTTP {status}: {detail}")
        answer = body
    if not isinstance(answer, dict):
        raise CouldNotCheck(f"{function} answered {type(answer).__name__}, expected an object")
    if answer.get("error") or answer.get("success") is False:
        raise QueryError(f"{function} reported an error: {answer.get('error') or answer}")
    return answer


def _rows(function: str, answer: dict[str, Any]) -> Rows:
    rows = answer.get("rows")
    if not isinstance(rows, list):
        raise CouldNotCheck(f"{function}: the answer has no 'rows' list "
                            f"(keys: {', '.join(sorted(answer)) or 'none'})")
    if not rows:
        return Rows(tuple(answer.get("columns") or ()), [])
    if all(isinstance(r, dict) for r in rows):
        columns = tuple(answer.get("columns") or rows[0].keys())
        return Rows(columns, [tuple(r.get(c) for c in columns) for r in rows])
    columns = answer.get("columns")
    if isinstance(columns, list) and all(isinstance(r, list) for r in rows):
        return Rows(tuple(columns), [tuple(r) for r in rows])
    raise CouldNotCheck(f"{function}: rows are neither objects nor lists with 'columns'")
