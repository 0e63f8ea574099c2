"""Attach the reports to a release ticket: upload to S3 under a run prefix, presign a link."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlparse

from checks.clients.aws import AwsClients
from checks.config import ConfigError, duration_ms
from checks.outcome import CouldNotCheck

MAX_EXPIRY_S = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live


@dataclass(frozen=True)
class Destination:
    """``s3://bucket/prefix`` and how long the presigned link lives."""

    bucket: str
    prefix: str
    expiry_s: int


def parse_destination(url: str, expiry: str) -> Destination:
    """Validate ``--upload`` and ``--upload-expiry`` before anything runs."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigError(f"--upload {url!r}: expected s3://bucket/prefix")
    try:
        expiry_s = duration_ms(expiry) // 1000
    except ConfigError as exc:
        raise ConfigError(f"--upload-expiry: {exc}") from None
    if not 1 <= expiry_s <= MAX_EXPIRY_S:
        raise ConfigError(f"--upload-expiry {expiry}: must be between 1s and 7d")
    return Destination(parsed.netloc, parsed.path.strip("/"), expiry_s)


def run_key(dest: Destination, run_id: str, name: str) -> str:
    return "/".join(p for p in (dest.prefix, run_id, name) if p)


@dataclass(frozen=True)
class Link:
    """Where ``report.html`` of this run is read once uploaded."""

    url: str
    note: str
    """What kind of link it is, for the reader (how long it works, or that it needs a
    login)."""


def presign(dest: Destination, run_id: str, clients: AwsClients) -> Link:
    """The presigned link ``report.html`` of this run will have (its key is known ahead),
    signed with SigV4, so that its expiry holds and KMS-encrypted buckets serve it. With
    temporary credentials (every CI), the S3 console's page of the object instead: a
    presigned link would carry the session token (a secret) and die with the credentials,
    while the console asks the reader to log in."""
    key = run_key(dest, run_id, "report.html")
    try:
        credentials = clients.session.get_credentials()
        if credentials is not None and credentials.token:
            region = clients.session.region_name or "us-east-1"
            query = urlencode({"region": region, "bucketType": "general", "prefix": key})
            return Link(f"https://{region}.console.aws.amazon.com/s3/object/"
                        f"{quote(dest.bucket)}?{query}",
                        f"AWS console, needs a login; s3://{dest.bucket}/{key}")
        url = _client(clients).generate_presigned_url(
            "get_object", Params={"Bucket": dest.bucket, "Key": key},
            ExpiresIn=dest.expiry_s)
        return Link(url, f"link valid {_hours(dest.expiry_s)}")
    except Exception as exc:  # botocore: no credentials, bad region...
        raise CouldNotCheck(f"cannot presign a link: {str(exc).splitlines()[0]}") from None


def _hours(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{seconds} s"


def upload(files: list[Path], dest: Destination, run_id: str, clients: AwsClients
           ) -> list[str]:
    """Upload ``files`` under ``prefix/run_id/``; any failure is a CouldNotCheck naming it."""
    keys = []
    try:
        client = _client(clients)
        for f in files:
            key = run_key(dest, run_id, f.name)
            content_type = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
            client.upload_file(str(f), dest.bucket, key, ExtraArgs={"ContentType": content_type})
            keys.append(key)
    except Exception as exc:  # botocore raises many types: credentials, endpoint, client
        raise CouldNotCheck(f"upload to s3://{dest.bucket}/{run_key(dest, run_id, '')} "
                            f"failed: {str(exc).splitlines()[0]}") from None
    return keys


def _client(clients: AwsClients) -> Any:
    return clients.client("s3", read_timeout=30, signature_version="s3v4")
