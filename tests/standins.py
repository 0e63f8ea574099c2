"""Local stand-ins, over real HTTP on loopback, for the services reports go to: GitHub's
issue comments API, Jira's attachments and comments API, a Prometheus Pushgateway. Each
checks what the real service checks (authentication, the issue exists, Jira's XSRF
header, a valid exposition format) and answers as it does."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.loopback import loopback

TOKEN = "ghp-test-token-0123456789"


@dataclass
class Service:
    """A running stand-in: its base URL and what it received."""

    url: str = ""
    comments: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    service: Service
    known_issues: set[str]

    def log_message(self, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _send(self, status: int, payload: Any = None) -> None:
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _GitHub(_Handler):
    def do_POST(self) -> None:
        body = self._body()
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, {"message": "Bad credentials",
                             "documentation_url": "https://docs.github.com/rest"})
            return
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", self.path)
        if not match or f"{match[1]}#{match[2]}" not in self.known_issues:
            self._send(404, {"message": "Not Found"})
            return
        comment = {"id": len(self.service.comments) + 1, "issue": f"{match[1]}#{match[2]}",
                   "body": json.loads(body)["body"]}
        self.service.comments.append(comment)
        self._send(201, {**comment, "html_url": f"https://github.com/{match[1]}/issues/"
                                                f"{match[2]}#issuecomment-{comment['id']}"})


class _Jira(_Handler):
    def do_POST(self) -> None:
        if not self.headers.get("Authorization", "").startswith(("Basic ", "Bearer ")):
            self._send(401, {"errorMessages": ["You are not authenticated."]})
            return
        match = re.fullmatch(r"/rest/api/2/issue/([A-Z0-9_]+-\d+)/(attachments|comment)",
                             self.path)
        if not match or match[1] not in self.known_issues:
            self._body()
            self._send(404, {"errorMessages": ["Issue does not exist or you do not have "
                                               "permission to see it."], "errors": {}})
            return
        if match[2] == "attachments":
            if self.headers.get("X-Atlassian-Token") != "no-check":
                self._body()
                self._send(403, {"errorMessages": ["XSRF check failed"]})
                return
            message = email.message_from_bytes(
                f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                + self._body(), policy=email.policy.HTTP)
            part = next(p for p in message.iter_parts()
                        if p.get_param("name", header="content-disposition") == "file")
            content = part.get_payload(decode=True)
            self.service.attachments.append({"issue": match[1],
                                             "filename": part.get_filename(),
                                             "content": content})
            self._send(200, [{"filename": part.get_filename(), "size": len(content)}])
            return
        comment = {"issue": match[1], "body": json.loads(self._body())["body"]}
        self.service.comments.append(comment)
        self._send(201, {"id": str(len(self.service.comments)), **comment})


class _Pushgateway(_Handler):
    def do_PUT(self) -> None:
        self._push()

    def do_POST(self) -> None:
        self._push()

    def _push(self) -> None:
        text = self._body().decode()
        match = re.fullmatch(r"/metrics/job/([^/]+)((?:/[^/]+/[^/]+)*)", self.path)
        if not match:
            self._send(404)
            return
        try:
            families = {f.name: f for f in text_string_to_metric_families(text)}
        except ValueError as exc:
            self._send(400, {"error": str(exc)})
            return
        self.service.pushes.append({"job": match[1], "labels": match[2], "families": families,
                                    "text": text})
        self._send(200)


@contextmanager
def serve(kind: str, known_issues: set[str] = frozenset()) -> Iterator[Service]:
    """Serve ``github``, ``jira`` or ``pushgateway`` on a free loopback port."""
    service = Service()
    base = {"github": _GitHub, "jira": _Jira, "pushgateway": _Pushgateway}[kind]
    handler = type(f"{base.__name__}Handler", (base,),
                   {"service": service, "known_issues": set(known_issues)})
    with loopback(handler) as service.url:
        yield service


@dataclass
class AwsFront:
    """A stand-in in front of moto's server: forwards every AWS request to it, records
    each one's operation, and answers chosen operations with an error as AWS would."""

    url: str = ""
    calls: list[tuple[str, bytes]] = field(default_factory=list)
    faults: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Operation (``DescribeServices``) -> (HTTP status, AWS error code)."""

    def operations(self) -> list[str]:
        return [op for op, _ in self.calls]


_REST_OPERATIONS = [  # the REST APIs the checks call: (method, path pattern, operation)
    ("GET", r"/schedules", "ListSchedules"),
    ("GET", r"/schedules/[^/]+", "GetSchedule"),
    ("GET", r"/2015-03-31/functions/[^/]+/configuration", "GetFunctionConfiguration"),
]


def _operation(method: str, path: str, headers: Any) -> str:
    if target := headers.get("X-Amz-Target"):
        return target.rsplit(".", 1)[-1]
    if path.startswith("/service/"):  # Smithy RPC v2 (CloudWatch): .../operation/<name>
        return path.rsplit("/", 1)[-1]
    bare = path.split("?", 1)[0]
    return next((op for m, pattern, op in _REST_OPERATIONS
                 if m == method and re.fullmatch(pattern, bare)), f"{method} {bare}")


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    return (bytes([0x60 + len(data)]) if len(data) < 24 else bytes([0x78, len(data)])) + data


def _error_response(path: str, headers: Any, code: str) -> tuple[dict[str, str], bytes]:
    """An AWS error in the request's protocol: JSON 1.1, Smithy RPC v2 CBOR, or REST-JSON."""
    message = f"stand-in: {code}"
    if headers.get("X-Amz-Target"):
        return ({"Content-Type": "application/x-amz-json-1.1"},
                json.dumps({"__type": code, "message": message}).encode())
    if path.startswith("/service/"):
        body = bytes([0xA2]) + _cbor_text("__type") + _cbor_text(code) + \
            _cbor_text("message") + _cbor_text(message)
        return {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}, body
    return ({"Content-Type": "application/json", "x-amzn-ErrorType": code},
            json.dumps({"message": message}).encode())


@contextmanager
def aws_front(upstream: str, faults: dict[str, tuple[int, str]] | None = None
              ) -> Iterator[AwsFront]:
    """Serve an :class:`AwsFront` for ``upstream`` (moto's endpoint) on a free port."""
    import urllib.error
    import urllib.request

    front = AwsFront(faults=dict(faults or {}))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            operation = _operation(self.command, self.path, self.headers)
            front.calls.append((operation, body))
            if operation in front.faults:
                status, code = front.faults[operation]
                headers, payload = _error_response(self.path, self.headers, code)
            else:
                request = urllib.request.Request(upstream + self.path, data=body or None,
                                                 method=self.command, headers={
                                                     k: v for k, v in self.headers.items()
                                                     if k.lower() != "host"})
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, headers, payload = answer.status, dict(answer.headers), \
                            answer.read()
                except urllib.error.HTTPError as exc:
                    status, headers, payload = exc.code, dict(exc.headers), exc.read()
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection", "transfer-encoding",
                                       "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _any

    with loopback(Handler) as front.url:
        yield front
