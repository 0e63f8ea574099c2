"""Put the reports on the release ticket: a GitHub issue or pull request (a comment with
summary.md and the link), or a Jira issue (report.html attached, summary.md as a comment),
through the services' REST APIs with a token from the environment."""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.config import ConfigError
from checks.outcome import CouldNotCheck
from checks.reporting.model import CheckResult, Run
from checks.reporting.summary import JIRA_WIKI, MARKDOWN, summary_text

if TYPE_CHECKING:
    import urllib3

_GITHUB = re.compile(r"github:([\w.-]+)/([\w.-]+)#(\d+)")
_JIRA = re.compile(r"jira:([A-Z][A-Z0-9_]*-\d+)")


@functools.cache
def _http() -> urllib3.PoolManager:
    """Retried only when the connection was never made: a repeated POST would comment twice.
    (Made on first use: most runs attach nothing, and need not import urllib3.)"""
    import urllib3

    return urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=30),
                               retries=urllib3.Retry(total=2, connect=2, read=0, status=0,
                                                     redirect=0))


@dataclass(frozen=True)
class Ticket:
    """Where to attach: ``github:owner/repo#123`` or ``jira:OPS-42``."""

    service: str
    ref: str
    base_url: str
    headers: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        return f"{self.service}:{self.ref}"


def parse(value: str, environ: Mapping[str, str]) -> Ticket:
    """``--attach`` checked before anything runs: its form and its token."""
    if match := _GITHUB.fullmatch(value):
        token = environ.get("GITHUB_TOKEN")
        if not token:
            raise ConfigError(f"--attach {value}: set GITHUB_TOKEN (a token that may comment)")
        return Ticket("github", f"{match[1]}/{match[2]}#{match[3]}",
                      environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
                      (("Authorization", f"Bearer {token}"),
                       ("Accept", "application/vnd.github+json"),
                       ("X-GitHub-Api-Version", "2022-11-28")))
    if match := _JIRA.fullmatch(value):
        base, token = environ.get("JIRA_BASE_URL"), environ.get("JIRA_TOKEN")
        if not base or not token:
            raise ConfigError(f"--attach {value}: set JIRA_BASE_URL and JIRA_TOKEN (and "
                              "JIRA_USER for Jira Cloud's email + API token)")
        user = environ.get("JIRA_USER")
        auth = (f"Basic {base64.b64encode(f'{user}:{token}'.encode()).decode()}" if user
                else f"Bearer {token}")
        return Ticket("jira", match[1], base.rstrip("/"), (("Authorization", auth),))
    raise ConfigError(f"--attach {value!r}: expected github:owner/repo#123 or jira:KEY-123")


def attach(ticket: Ticket, run: Run, results: Sequence[CheckResult], report_html: Path,
           redact: Callable[[str], str]) -> str:
    """Post the reports; returns where they went. Any failure is a CouldNotCheck.

    GitHub renders Markdown; Jira's REST API v2 (Cloud, Server and Data Center alike)
    renders wiki markup, where Markdown's ``##`` is a list and ``| --- |`` a table row.
    """
    if ticket.service == "github":
        repo, number = ticket.ref.split("#")
        answer = _call("POST", f"{ticket.base_url}/repos/{repo}/issues/{number}/comments",
                       ticket, json={"body": redact(summary_text(run, results, MARKDOWN))})
        return str(answer.get("html_url") or ticket)
    _call("POST", f"{ticket.base_url}/rest/api/2/issue/{ticket.ref}/attachments", ticket,
          fields={"file": (report_html.name, report_html.read_bytes(), "text/html")},
          headers={"X-Atlassian-Token": "no-check"})
    _call("POST", f"{ticket.base_url}/rest/api/2/issue/{ticket.ref}/comment", ticket,
          json={"body": redact(summary_text(run, results, JIRA_WIKI))})
    return f"{ticket.base_url}/browse/{ticket.ref}"


def _call(method: str, url: str, ticket: Ticket, *, json: Any = None,
          fields: dict[str, Any] | None = None, headers: dict[str, str] | None = None
          ) -> dict[str, Any]:
    import urllib3

    all_headers = {**dict(ticket.headers), "User-Agent": "ops-verify", **(headers or {})}
    try:
        if fields is not None:
            response = _http().request(method, url, fields=fields, headers=all_headers)
        else:
            response = _http().request(method, url, json=json, headers=all_headers)
    except urllib3.exceptions.HTTPError as exc:
        raise CouldNotCheck(f"{ticket}: {url} cannot be reached: {exc}") from None
    if response.status >= 300:
        raise CouldNotCheck(f"{ticket}: {method} {url.split('://', 1)[-1].split('/', 1)[-1]} "
                            f"answered HTTP {response.status}: {_reason(response.data)}")
    try:
        found = response.json() if response.data else {}
    except ValueError:
        found = {}
    return found if isinstance(found, dict) else {"items": found}


def _reason(data: bytes) -> str:
    try:
        body = json.loads(data)
    except ValueError:
        return data[:200].decode(errors="replace")
    if isinstance(body, dict):
        return str(body.get("message") or body.get("errorMessages") or body)[:200]
    return str(body)[:200]
