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
