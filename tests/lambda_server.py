"""A small local server speaking the Lambda Invoke API, standing in for the db-query proxy.

``POST /2015-03-31/functions/{name}/invocations`` with ``{"sql": ...}``; the function name
picks the behaviour: ``ops-pipeline-db-query`` runs the SQL read-only against a real
database; ``crashing`` answers with X-Amz-Function-Error; ``http-500`` with statusCode 500;
``no-rows`` with a body that lacks ``rows``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")


def _handler(dsn: str, calls: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            match = _PATH.fullmatch(self.path.split("?")[0])
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not match:
                self._send(404, {"message": "not found"}, {"x-amzn-ErrorType": "NotFound"})
                return
            function, query = match.group(1), json.loads(body)["sql"]
            calls.append(query)
            if function == "crashing":
                self._send(200, {"errorMessage": "boom", "errorType": "RuntimeError"},
                           {"X-Amz-Function-Error": "Unhandled"})
            elif function == "http-500":
                self._send(200, {"statusCode": 500, "body": json.dumps({"error": "db down"})})
            elif function == "no-rows":
                self._send(200, {"statusCode": 200, "body": json.dumps({"success": True})})
            else:
                self._send(200, self._run(query))

        def _run(self, query: str) -> dict[str, object]:
            try:
                with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
                    cur.execute("SET default_transaction_read_only = on")
                    cur.execute(query)
                    names = [c.name for c in cur.description or ()]
                    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            except psycopg.Error as exc:
                return {"statusCode": 500, "body": json.dumps({"success": False,
                                                               "error": str(exc)})}
            return {"statusCode": 200,
                    "body": json.dumps({"success": True, "rows": rows}, default=str)}

        def _send(self, status: int, payload: object, headers: dict[str, str] | None = None
                  ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def lambda_server(dsn: str) -> Iterator[tuple[str, list[str]]]:
    """Serve on a free loopback port; yields the endpoint URL and the SQL it received."""
    calls: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(dsn, calls))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()
