"""A local stand-in for the Lambda Invoke API serving the real db-query handler.

The handler below does what the real ``ops-pipeline-db-query`` function does (written
from its published behaviour): it refuses any text that, stripped and upper-cased, does
not start with ``SELECT`` (statusCode 400), runs the rest with psycopg2 and a
RealDictCursor (several statements: the last one's rows), never commits, and answers
``json.dumps({"success": True, "rows": rows, "count": n}, default=str)``; any exception is
statusCode 500 with ``success: false``, ``error`` and ``error_type``. No row cap, no timeout.

The Invoke API around it behaves like AWS's, limits included: an unknown function is a
404 ResourceNotFoundException, a request over 6 MB a 413, an answer over 6 MB an
``Unhandled`` function error (``Function.ResponseSizeTooLarge``), throttling a 429
TooManyRequestsException.

Faults, chosen by the function's name: ``crashing`` (an unhandled exception:
X-Amz-Function-Error), ``http-500`` (the handler's 500), ``no-success`` (200 with
``success: false``), ``malformed`` (an answer that is not JSON), ``no-rows`` (no ``rows``),
``throttled`` (each distinct request is throttled once, then answered), ``server-error``
and ``bad-gateway`` (the Invoke API's own 500 ServiceException and 502
ResourceNotReadyException, after the function may have run), ``hung`` (never answers in
time), ``slow`` (answers after ``latency``), ``wrong-db`` (answers for another database).
Proxies that cut answers short and rewrite ``count`` to match: ``truncating`` (an answer of
several rows loses its last), ``emptying`` (loses them all), ``trimming-arrays`` (an array
value of a row loses its last element), ``trimming-catalog`` (a JSON object's ``rows`` do).

Besides what it answers, the stand-in keeps what it was sent (every request body, the SQL
that reached a function) and, for every statement the handler ran, the settings the
database ran it with (read in the same transaction, after it).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import psycopg2
import psycopg2.extras

from tests.loopback import loopback

_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
MAX_PAYLOAD = 6 * 1024 * 1024
FUNCTIONS = ("ops-pipeline-db-query", "crashing", "http-500", "no-success", "malformed",
             "no-rows", "no-count", "throttled", "hung", "slow", "wrong-db", "cached",
             "stale-answer", "server-error", "bad-gateway", "truncating", "emptying",
             "trimming-arrays", "trimming-catalog")


def cut_short(answer: dict[str, Any], how: str) -> dict[str, Any]:
    """The answer as a proxy that cuts it short would pass it on, its ``count`` agreeing."""
    body = json.loads(answer["body"])
    if not body.get("success"):
        return answer
    rows = body["rows"]
    if how == "truncating" and len(rows) > 1:
        rows = rows[:-1]
    elif how == "emptying" and len(rows) > 1:
        rows = []
    for row in rows:
        for key, value in row.items():
            if how == "trimming-arrays" and isinstance(value, list) and len(value) > 1:
                row[key] = value[:-1]
            if how == "trimming-catalog" and isinstance(value, dict) and value.get("rows"):
                value["rows"] = value["rows"][:-1]
    return {**answer, "body": json.dumps({**body, "rows": rows, "count": len(rows)})}


API_ERRORS = {"server-error": (500, "ServiceException", "Lambda encountered an internal "
                               "error"),
              "bad-gateway": (502, "ResourceNotReadyException", "The function is inactive")}
"""Functions whose Invoke API call fails with a 5xx once the function may have run."""
OBSERVED = ("statement_timeout", "lock_timeout", "search_path", "TimeZone", "row_security",
            "transaction_read_only")
"""Settings the stand-in reads back after each statement, in its transaction."""


def handler(event: dict[str, Any], dsn: str, answer_from: float = 0.0,
            observed: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The db-query handler, as the real function behaves; ``answer_from`` seconds ago is
    when its transaction began (now() says so): an answer that is not from now. The
    settings the statement ran with are appended to ``observed`` (read after it, in its
    transaction: not part of the answer)."""
    sql = event.get("sql", "")
    if not sql.strip().upper().startswith("SELECT"):
        return {"statusCode": 400, "body": json.dumps({"error": "Only SELECT queries allowed"})}
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10)
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            if answer_from:
                cur.execute("SELECT pg_sleep(%s)", (answer_from,))
            cur.execute(sql)
            rows = cur.fetchall()
            if observed is not None:
                cur.execute("SELECT name, setting FROM pg_catalog.pg_settings "
                            "WHERE name = ANY (%s)", (list(OBSERVED),))
                observed.append({r["name"]: r["setting"] for r in cur.fetchall()})
        conn.close()
        return {"statusCode": 200,
                "body": json.dumps({"success": True, "rows": rows, "count": len(rows)},
                                   default=str)}
    except Exception as e:
        return {"statusCode": 500,
                "body": json.dumps({"success": False, "error": str(e),
                                    "error_type": type(e).__name__})}


@dataclass
class Server:
    """The running stand-in: its endpoint, and what it was asked."""

    endpoint: str
    calls: list[str] = field(default_factory=list)
    """The SQL of every invocation that reached a function, in order."""
    requests: list[bytes] = field(default_factory=list)
    """The body of every request the Invoke API received (throttled or failed ones too)."""
    observed: list[dict[str, str]] = field(default_factory=list)
    """For each statement the handler ran: the settings (:data:`OBSERVED`) it ran with."""
    invocations: int = 0
    throttled: set[bytes] = field(default_factory=set)
    latency: float = 0.0
    """Seconds every invocation waits before answering (real invocations are not free)."""
    hang: float = 60.0
    cache: dict[str, Any] = field(default_factory=dict)
    """The ``cached`` function's answers, by request text."""


def _handler_class(dsn: str, other_dsn: str | None, state: Server) -> type:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            match = _PATH.fullmatch(self.path.split("?")[0])
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.invocations += 1
                state.requests.append(body)
            if not match or match.group(1) not in FUNCTIONS:
                name = match.group(1) if match else self.path
                self._error(404, "ResourceNotFoundException",
                            f"Function not found: arn:aws:lambda:us-west-2:000000000000:"
                            f"function:{name}")
                return
            if len(body) > MAX_PAYLOAD:
                self._error(413, "RequestEntityTooLargeException",
                            f"{len(body)} byte payload is too large for the RequestResponse "
                            f"invocation type (limit {MAX_PAYLOAD} bytes)")
                return
            function = match.group(1)
            if function == "throttled":
                # Once per request, not by call number: concurrent retries could otherwise
                # keep landing on throttled numbers and exhaust their attempts.
                with lock:
                    first = body not in state.throttled
                    state.throttled.add(body)
                if first:
                    self._error(429, "TooManyRequestsException", "Rate Exceeded.")
                    return
            event = json.loads(body or b"{}")
            with lock:
                state.calls.append(event.get("sql", ""))
            if state.latency:
                time.sleep(state.latency)
            if function == "hung":
                time.sleep(state.hang)
            if function in API_ERRORS:
                handler(event, dsn)  # the function ran; then the service failed
                self._error(*API_ERRORS[function])
                return
            self._answer(function, event)

        def _answer(self, function: str, event: dict[str, Any]) -> None:
            if function == "crashing":
                self._send(200, json.dumps({"errorMessage": "boom", "errorType": "RuntimeError",
                                            "stackTrace": []}).encode(),
                           {"X-Amz-Function-Error": "Unhandled"})
                return
            if function == "malformed":
                self._send(200, b"{'statusCode': 200, 'body': not json")
                return
            if function == "http-500":
                answer = {"statusCode": 500, "body": json.dumps(
                    {"success": False, "error": "could not connect to server: Connection "
                     "timed out", "error_type": "OperationalError"})}
            elif function == "no-success":
                answer = {"statusCode": 200, "body": json.dumps({"success": False})}
            elif function == "no-rows":
                answer = {"statusCode": 200, "body": json.dumps({"success": True})}
            elif function == "no-count":  # every answer cut to nothing, and says nothing
                answer = {"statusCode": 200, "body": json.dumps({"success": True, "rows": []})}
            elif function == "cached":  # a caching layer keyed on the text
                key = event.get("sql", "")
                if key not in state.cache:
                    state.cache[key] = handler(event, dsn)
                answer = state.cache[key]
            elif function in ("truncating", "emptying", "trimming-arrays", "trimming-catalog"):
                answer = cut_short(handler(event, dsn), function)
            else:
                answer = handler(event, other_dsn if function == "wrong-db" and other_dsn
                                 else dsn, answer_from=2.0 if function == "stale-answer" else 0,
                                 observed=state.observed)
            payload = json.dumps(answer).encode()
            if len(payload) > MAX_PAYLOAD:
                payload = json.dumps({
                    "errorMessage": f"Response payload size exceeded maximum allowed payload "
                                    f"size ({MAX_PAYLOAD} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge"}).encode()
                self._send(200, payload, {"X-Amz-Function-Error": "Unhandled"})
                return
            self._send(200, payload)

        def _error(self, status: int, kind: str, message: str) -> None:
            self._send(status, json.dumps({"Type": "User", "message": message}).encode(),
                       {"x-amzn-ErrorType": kind})

        def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None
                  ) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Amz-Executed-Version", "$LATEST")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a read timeout): as the real API, nothing to do

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def lambda_server(dsn: str, other_dsn: str | None = None, latency: float = 0.0
                  ) -> Iterator[Server]:
    """Serve on a free loopback port until the block ends."""
    state = Server("", latency=latency)
    with loopback(_handler_class(dsn, other_dsn, state)) as state.endpoint:
        yield state
