"""Keep secrets out of every output: known secret strings are replaced before writing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

MASK = "***"
_SECRET_ENV = ("PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GITHUB_TOKEN",
               "JIRA_TOKEN")
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]+)(@)")
_ANY_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s/]+)(@)",
                               re.IGNORECASE)  # e.g. a Pushgateway behind basic auth
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


class Redactor:
    """Replaces every registered secret, and any password written in a DSN, with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self._longest_first: list[str] = []
        for s in secrets:
            self.add(s)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Redactor:
        return cls(environ.get(name) for name in _SECRET_ENV)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 3:  # shorter strings would mask ordinary text
            # also as a URL carries it (an AWS session token always holds '/', '+' or '=')
            self._secrets.update({secret, quote(secret, safe=""), quote_plus(secret)})
            self._longest_first = sorted(self._secrets, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        # called for every field of every item's report: the patterns only where they can
        # match (each needs "://" or the word password)
        if "://" in text:
            text = _URL_PASSWORD.sub(rf"\1{MASK}\3", text)
            text = _ANY_URL_PASSWORD.sub(rf"\1{MASK}\3", text)
        if "password" in text.casefold():  # as re.IGNORECASE matches (\u017f is an s)
            text = _KV_PASSWORD.sub(rf"\1{MASK}", text)
        for secret in self._longest_first:
            text = text.replace(secret, MASK)
        return text
