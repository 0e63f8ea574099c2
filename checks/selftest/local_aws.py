"""The AWS the self-test breaks: moto's server on loopback, started on first use.

Each invariant's world (and each of its faults') lives in an AWS account of its own, which
moto makes for a role assumed in it, so worlds built at the same time never meet. Nothing
leaves this machine: the server runs in a process of its own with none of the caller's AWS
settings, and every client is given its address and the credentials of its account. moto
is an optional dependency (``pip install 'ops-verify[selftest]'``); without it the AWS
invariants are not proven. The server ends with the run (or when this process does: it
reads its stdin until the end).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import select
import subprocess
import sys
import threading
from datetime import UTC, datetime

from checks.clients.aws import AwsClients
from checks.selftest.faults import AwsAccount, NotProven

INSTALL = ("not proven: the AWS checks run against a local stand-in (moto's server), which "
           "is not installed: pip install 'ops-verify[selftest]'")
FIRST_ACCOUNT = 100_000_000_000
_KEY = {"aws_access_key_id": "AKIAOPSVERIFYSELFTEST", "aws_secret_access_key": "self-test"}
_SERVE = ("import logging, os, sys\n"
          "from moto.server import ThreadedMotoServer\n"
          "logging.getLogger('werkzeug').setLevel(logging.ERROR)\n"
          "server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)\n"
          "server.start()\n"
          "print(server.get_host_and_port()[1], flush=True)\n"
          "sys.stdin.read()\n"
          "os._exit(0)\n")  # at the end of stdin, whatever its server threads do
START_S = 60


class LocalAws:
    """moto's server (in this process, on 127.0.0.1) and fresh accounts of it."""

    def __init__(self) -> None:
        self._server: subprocess.Popen[str] | None = None
        self._endpoint: str | None = None
        self._accounts = itertools.count(FIRST_ACCOUNT)
        self._lock = threading.Lock()
        self._failed: str | None = None

    def account(self, region: str) -> AwsAccount:
        """A new, empty account, with clients that reach only the local server."""
        endpoint = self._start()
        with self._lock:
            number = str(next(self._accounts))
        sts = AwsClients(region, endpoint_url=endpoint, credentials=_KEY).client("sts")
        granted = sts.assume_role(RoleArn=f"arn:aws:iam::{number}:role/ops-verify-self-test",
                                  RoleSessionName="ops-verify-self-test")["Credentials"]
        credentials = {"aws_access_key_id": granted["AccessKeyId"],
                       "aws_secret_access_key": granted["SecretAccessKey"],
                       "aws_session_token": granted["SessionToken"]}
        return AwsAccount(AwsClients(region, endpoint_url=endpoint, credentials=credentials),
                          region, number, datetime.now(UTC))

    def _start(self) -> str:
        with self._lock:
            if self._failed:
                raise NotProven(self._failed)
            if self._endpoint is None:
                try:
                    self._endpoint = self._serve()
                except NotProven as exc:
                    self._failed = str(exc)
                    raise
            return self._endpoint

    def _serve(self) -> str:
        if importlib.util.find_spec("moto") is None:
            raise NotProven(INSTALL.removeprefix("not proven: "))
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("AWS_", "MOTO_"))}
        environment.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                           AWS_EC2_METADATA_DISABLED="true",
                           # a service created with one task desired runs it at once
                           MOTO_ECS_SERVICE_RUNNING="1")
        self._server = subprocess.Popen([sys.executable, "-c", _SERVE], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, env=environment)
        assert self._server.stdout is not None
        ready, _, _ = select.select([self._server.stdout], [], [], START_S)
        port = self._server.stdout.readline().strip() if ready else ""
        if not port.isdigit():
            self._stop()
            raise NotProven("the local AWS stand-in (moto's server) did not start")
        return f"http://127.0.0.1:{port}"

    def _stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        if server.stdin is not None:
            server.stdin.close()  # it stops reading, and ends
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    def close(self) -> None:
        with self._lock:
            self._stop()
