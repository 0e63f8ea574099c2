"""``pytest verify/`` runs as processes of their own, started without paying for imports.

Most of the suite's tests run the verification as an operator does and read what it wrote.
A fresh ``python -m pytest`` spends most of a second importing pytest, psycopg, jinja2,
prometheus-client, boto3 and the suite's library before it checks anything; with hundreds
of runs, that was most of the tests' time. So each run is a child of one server process
per test process (multiprocessing's ``forkserver``) that imported those once: the child
starts with them imported, then sets its own working folder, environment, argv and output
files, and calls ``pytest.main`` as ``python -m pytest`` would. It is still a process of
its own (its exit status, files, signals and servers are its own; nothing it does reaches
the test process). The pytest plugins are imported by each run, as in a fresh process
(see :mod:`tests.warm`).
"""

from __future__ import annotations

import multiprocessing
import os
import pkgutil
import subprocess
import sys
from functools import cache
from pathlib import Path

OPS_VERIFY = Path(sys.executable).with_name("ops-verify")
"""The console entry point CI runs (pyproject's [project.scripts]: ``plugin.guard:main``)."""
PRELOAD = ["_pytest.config", "_pytest.main", "_pytest.python", "_pytest.terminal",
           "_pytest.junitxml", "_pytest.doctest", "_pytest.legacypath", "pytest", "jinja2",
           "pygments.lexers", "execnet", "psycopg", "prometheus_client", "sqlparse", "boto3",
           "botocore.session", "tests.forked"]
"""Imported once by the fork server (a name that fails to import is left out), with every
module of the suite's library (:func:`_library`), then :mod:`tests.warm`."""


def _library() -> list[str]:
    """Every module of ``checks`` (no ``__main__``: importing one would run it)."""
    import checks

    return [m.name for m in pkgutil.walk_packages(checks.__path__, "checks.")
            if not m.name.endswith("__main__")]


@cache
def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, *_library(), "tests.warm"])
    return context


def run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
        output: Path, command: str = "pytest") -> tuple[int, str]:
    """``python -m pytest *args`` (or, with ``command="ops-verify"``, the console script
    ``ops-verify *args``) in ``cwd`` with exactly ``env``: its exit status (minus
    the signal that ended it, as subprocess says), and its
    stdout then its stderr (as ``subprocess.run(capture_output=True)`` would give them;
    written to ``output``.out / .err, removed once read). A run past ``timeout`` is killed:
    :class:`subprocess.TimeoutExpired`."""
    if os.environ.get("VERIFY_TESTS_SUBPROCESS"):  # a fresh interpreter per run, to compare
        program = [str(OPS_VERIFY)] if command == "ops-verify" else [sys.executable, "-m",
                                                                     "pytest"]
        done = subprocess.run([*program, *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)
        return done.returncode, done.stdout + done.stderr
    out, err = output.with_suffix(".out"), output.with_suffix(".err")
    child = _context().Process(target=_main,
                               args=(args, str(cwd), env, str(out), str(err), command))
    child.start()
    child.join(timeout)
    if child.exitcode is None:
        child.kill()
        child.join()
        raise subprocess.TimeoutExpired(["pytest", *args], timeout)
    text = ""
    for path in (out, err):
        if path.exists():
            text += path.read_text(errors="replace")
            path.unlink()
    return child.exitcode, text


def _main(args: list[str], cwd: str, env: dict[str, str], out: str, err: str,
          command: str) -> None:
    """In the child: become ``python -m pytest *args`` (or ``ops-verify *args``) run in
    ``cwd`` with ``env``."""
    for fd, path in ((1, out), (2, err)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    import pytest
    import pytest.__main__

    if command == "ops-verify":  # a console script: its own folder first, not the working one
        from plugin.guard import main

        sys.path.insert(0, str(OPS_VERIFY.parent))
        sys.argv = [str(OPS_VERIFY), *args]
    else:
        sys.path.insert(0, cwd)  # as python -m puts the working folder first
        sys.argv = [pytest.__main__.__file__, *args]
        main = pytest.main
    try:
        code = main(args)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(int(code))
