"""The database through the read-only db-query Lambda (``--via-lambda FUNCTION``).

The real handler refuses any text that does not start with ``SELECT``, runs the rest with
psycopg2 (several statements allowed, the last one's rows returned) in a transaction it
never commits, and answers ``{"statusCode": 200, "body": "{\\"success\\": true, \\"rows\\":
[...], \\"count\\": n}"}`` with every non-JSON value as its ``str()``; errors come back as
``statusCode`` 400 or 500 with ``success: false``. It has no timeout of its own, so each
request starts with a SELECT that pins this transaction's timeouts and settings.

Every answer passes four layers of validation, and a failure names its layer: the Invoke
API (HTTP), the function (``FunctionError``), the handler's answer (``statusCode``,
``success``), the rows (a list of objects, as many as ``count`` says).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import sql

from checks.clients.aws import AwsClients, error_of
from checks.config import Settings, duration_ms
from checks.outcome import CouldNotCheck, first_line
from checks.targets import LAMBDA_REASON as PROBE_BLOCK
from checks.targets.base import (
    LOCK_TIMEOUT,
    RLS_WOULD_APPLY,
    STATEMENT_TIMEOUT,
    Params,
    ProbeBatch,
    QueryError,
    Rows,
    Statement,
    pins_statement,
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)


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


def select_text(text: str) -> str:
    """The statement without leading comments; it must then start with SELECT (the
    function's filter), which every statement the suite sends does by construction."""
    stripped = _LEADING_COMMENTS.sub("", text).rstrip().rstrip(";")
    if not stripped[:6].upper() == "SELECT":
        raise CouldNotCheck(f"not sent to the db-query Lambda, which runs only SELECT: "
                            f"{stripped[:60]!r}")
    return stripped


def request_text(settings: Settings, statement: Statement, params: Params = None) -> str:
    """What is sent as ``{"sql": ...}``: the pins, then the statement, then a comment
    unique to this request (no cache keyed on the text can answer it from an earlier run)."""
    pins = pins_statement(settings, local=True, read_only=True).as_string(None)
    return (f"{pins};\n{select_text(render_sql(statement, params))}\n"
            f"/* ops-verify request {uuid.uuid4().hex} */")


class LambdaTarget:
    """Queries sent to the proxy Lambda, at most ``concurrency`` invocations at once.

    A read timeout means the function may still be running: every later query fails at
    once with that cause instead of waiting out its own timeout.
    """

    kind = "lambda"
    probe_block = PROBE_BLOCK

    def __init__(self, function: str, settings: Settings, clients: AwsClients,
                 read_timeout_s: float | None = None) -> None:
        self.name = function
        self.concurrency = settings.concurrency
        self._function = function
        self._settings = settings
        self._read_timeout = read_timeout_s or duration_ms(settings.statement_timeout) / 1000 + 10
        self._client = clients.invoke_client(
            read_timeout=self._read_timeout,
            connect_timeout=max(1, duration_ms(settings.connect_timeout) / 1000))
        self._broken: str | None = None
        self._lock = threading.Lock()

    def query(self, statement: Statement, params: Params = None) -> Rows:
        if self._broken:
            raise CouldNotCheck(self._broken)
        payload = json.dumps({"sql": request_text(self._settings, statement, params)})
        response = self._invoke(payload)
        raw = response["Payload"].read()
        if response.get("FunctionError"):
            raise CouldNotCheck(f"{self._function}: the function failed "
                                f"({response['FunctionError']}): {_function_message(raw)}")
        return _rows(self._function, _answer(self._function, raw))

    def _invoke(self, payload: str) -> dict[str, Any]:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        try:
            return self._client.invoke(FunctionName=self._function,
                                       InvocationType="RequestResponse", Payload=payload)
        except ClientError as exc:
            code, message = error_of(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise CouldNotCheck(f"{self._function}: the Invoke API answered HTTP {status} "
                                f"{code}: {message}".rstrip(": ")) from None
        except ReadTimeoutError:
            self._break(f"{self._function}: no answer within {self._read_timeout:g}s (the "
                        "function may still be running the query); later queries not sent")
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            self._break(f"{self._function}: cannot reach the Lambda endpoint: {first_line(exc)}")
        except BotoCoreError as exc:
            raise CouldNotCheck(f"invoking {self._function} failed: {first_line(exc)}") from None
        raise AssertionError("unreachable")

    def _break(self, cause: str) -> None:
        with self._lock:
            self._broken = self._broken or cause
        raise CouldNotCheck(cause)

    def probe(self, inserts: Sequence[tuple[Statement, Params]],
              sequences: Sequence[tuple[str, str]], watch_all: bool = False) -> ProbeBatch:
        raise CouldNotCheck(PROBE_BLOCK)

    def render(self, statement: Statement, params: Params = None) -> str:
        return render_sql(statement, params)

    def cancel(self) -> None:
        pass  # each invocation ends within proxy_timeout; the function's reads roll back

    def close(self) -> None:
        pass  # the client is shared (one place builds AWS clients) and holds no session


def _function_message(raw: bytes) -> str:
    try:
        error = json.loads(raw)
        return f"{error.get('errorType', '?')}: {error.get('errorMessage', '')}"[:300]
    except (ValueError, AttributeError):
        return raw[:300].decode(errors="replace")


def _answer(function: str, raw: bytes) -> dict[str, Any]:
    """Layer 3: the handler's answer must be statusCode 200 and success true."""
    try:
        answer = json.loads(raw)
    except ValueError:
        raise CouldNotCheck(f"{function}: the answer is not JSON: "
                            f"{raw[:200].decode(errors='replace')!r}") from None
    if not isinstance(answer, dict) or "statusCode" not in answer:
        raise CouldNotCheck(f"{function}: the answer has no statusCode (got "
                            f"{type(answer).__name__} {str(answer)[:100]})")
    body = answer.get("body")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            raise CouldNotCheck(f"{function}: the answer's body is not JSON: "
                                f"{body[:200]!r}") from None
    if not isinstance(body, dict):
        raise CouldNotCheck(f"{function}: the answer's body is {type(body).__name__}, "
                            "expected an object")
    status = answer["statusCode"]
    if status != 200 or body.get("success") is not True:
        detail = body.get("error") or "no error given"
        kind = f" ({body['error_type']})" if body.get("error_type") else ""
        raise QueryError(f"{function}: the handler answered statusCode {status}: "
                         f"{detail}{kind}", _sqlstate(str(detail)))
    return body


def _rows(function: str, body: dict[str, Any]) -> Rows:
    """Layer 4: ``rows`` is a list of objects with one set of keys, ``count`` of them."""
    rows = body.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise CouldNotCheck(f"{function}: the answer's rows are not a list of objects "
                            f"(keys: {', '.join(sorted(body))})")
    # The handler always sends count: without it an answer cut short looks complete.
    if body.get("count") != len(rows) or isinstance(body.get("count"), bool):
        raise CouldNotCheck(f"{function}: the answer says {body.get('count', 'no count of')}"
                            f" rows but holds {len(rows)}")
    columns = tuple(rows[0]) if rows else ()
    if any(tuple(r) != columns for r in rows):
        raise CouldNotCheck(f"{function}: the rows do not all have the same columns")
    return Rows(columns, [tuple(r.values()) for r in rows])


_SQLSTATE_HINTS = {
    "canceling statement due to lock timeout": LOCK_TIMEOUT,
    "canceling statement due to statement timeout": STATEMENT_TIMEOUT,
    "query would be affected by row-level security": RLS_WOULD_APPLY,
    "permission denied": RLS_WOULD_APPLY,
}


def _sqlstate(message: str) -> str | None:
    """psycopg2's message carries no SQLSTATE through the function: infer the few we act on."""
    return next((code for text, code in _SQLSTATE_HINTS.items() if text in message), None)
