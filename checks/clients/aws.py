"""The one place that builds AWS clients: checks, the Lambda target, report upload, secrets.

Settings come from the standard chain (``AWS_PROFILE``, ``AWS_REGION``,
``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``, config files, roles), narrowed by an
environment's region and profile, so one run works against real AWS and local stand-ins.
boto3 is imported only when a client is first needed.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from checks.config import ConfigError
from checks.outcome import CouldNotCheck

RETRIED_CALLS = 3
"""Attempts for ordinary (idempotent, read-only) calls, in botocore's standard mode."""


class AwsClients:
    """Clients of one region and profile, built once each and shared (they are thread-safe)."""

    def __init__(self, region: str | None = None, profile: str | None = None, *,
                 endpoint_url: str | None = None,
                 credentials: dict[str, str] | None = None) -> None:
        self.profile = profile or None
        self._region = region or None
        self._endpoint_url = endpoint_url
        self._credentials = credentials
        """Given (with ``endpoint_url``): these credentials and that endpoint only, nothing of
        the caller's AWS settings (the self-test's local stand-in)."""
        self._session: Any = None
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        if self._session is None:
            import boto3

            try:
                if self._credentials is not None:
                    self._session = _isolated()
                    return self._session
                self._session = boto3.Session(profile_name=self.profile,
                                              region_name=self._region or _env_region())
            except Exception as exc:  # botocore: ProfileNotFound and friends
                raise ConfigError(f"AWS: {first_line(exc)}") from None
        return self._session

    @property
    def region(self) -> str | None:
        return self._region if self._credentials is not None else self.session.region_name

    def require(self) -> None:
        """A usage error, before anything runs, when no region or no credentials resolve."""
        if not self.region:
            raise ConfigError("AWS checks are on but no AWS region is set (AWS_REGION, "
                              "AWS_PROFILE, or aws_region in the environment's config)")
        try:
            credentials = self.session.get_credentials()
        except Exception as exc:  # botocore: a broken profile or credential source
            raise ConfigError(f"AWS credentials cannot be loaded: {first_line(exc)}") from None
        if credentials is None:
            raise ConfigError("AWS checks are on but no AWS credentials were found "
                              "(AWS_PROFILE, AWS_ACCESS_KEY_ID, or a role)")

    def client(self, service: str, *, read_timeout: float = 20, connect_timeout: float = 5,
               signature_version: str | None = None) -> Any:
        """A client for idempotent calls: retried in botocore's standard mode."""
        return self._build(service, read_timeout, connect_timeout, RETRIED_CALLS, veto=False,
                           signature_version=signature_version)

    def invoke_client(self, read_timeout: float, connect_timeout: float = 5,
                      attempts: int = 4) -> Any:
        """A Lambda client for synchronous invokes: throttling (and a connection that was
        never made) is retried with botocore's backoff; a read timeout or a server error
        never is, because the function may have run the query and would run it again."""
        return self._build("lambda", read_timeout, connect_timeout, attempts, veto=True)

    def _build(self, service: str, read_timeout: float, connect_timeout: float,
               attempts: int, *, veto: bool, signature_version: str | None = None) -> Any:
        key = (service, read_timeout, connect_timeout, attempts, veto, signature_version)
        with self._lock:
            if key not in self._clients:
                from botocore.config import Config

                config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                                retries={"mode": "standard", "total_max_attempts": attempts},
                                max_pool_connections=32, signature_version=signature_version)
                try:
                    if self._credentials is not None:
                        session = self.session
                        with _ISOLATED_LOCK:  # one session for every stand-in account
                            client = session.client(
                                service, config=config, endpoint_url=self._endpoint_url,
                                region_name=self._region, **self._credentials)
                    else:
                        client = self.session.client(service, config=config,
                                                     endpoint_url=self._endpoint_url)
                except Exception as exc:  # botocore: NoRegionError, bad endpoint URL...
                    raise CouldNotCheck(f"cannot set up the {service} client: "
                                        f"{first_line(exc)}") from None
                if veto:
                    client.meta.events.register_first(f"needs-retry.{service}.Invoke",
                                                      _no_retry_once_sent)
                self._clients[key] = client
            return self._clients[key]


def _no_retry_once_sent(response: Any = None, caught_exception: Any = None, **_: Any
                        ) -> bool | None:
    """``False`` (botocore: do not retry) when the request may have reached the function."""
    from botocore.exceptions import ReadTimeoutError

    if isinstance(caught_exception, ReadTimeoutError):
        return False
    if response is not None:
        status = response[0].status_code
        if status >= 500:
            return False
    return None  # let the standard policy decide (throttling, refused connections)


_ISOLATED: Any = None
_ISOLATED_LOCK = threading.Lock()


def _isolated() -> Any:
    """The one boto3 session (no credentials of its own) that reads no profile, config or
    credentials file; shared, so that each service's model is loaded once."""
    global _ISOLATED
    with _ISOLATED_LOCK:
        if _ISOLATED is None:
            import boto3
            import botocore.session

            # (config key, environment variable, default, conversion): no variable is read
            _ISOLATED = boto3.Session(botocore_session=botocore.session.Session(session_vars={
                "profile": (None, None, None, None),
                "config_file": (None, None, "/dev/null", None),
                "credentials_file": (None, None, "/dev/null", None)}))
        return _ISOLATED


def _env_region() -> str | None:
    # botocore reads AWS_DEFAULT_REGION; the interface promises AWS_REGION too.
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
