"""The suite's own plugins cannot be switched off: a run without one of them is refused.

``-p no:<name>`` (on the command line, in ``PYTEST_ADDOPTS`` or an ini file's ``addopts``)
on one of the suite's plugins, or on a pytest plugin it reports through, is a usage error,
and so is a run where pytest-html or pytest-metadata were not loaded
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``). Each of the suite's plugin modules asks at its
registration and again at configure, so whichever of them is left asks.

What no plugin can see is a run that never loads them (``--noconftest``, ``--confcutdir``
below the repository, ``-c`` / ``--rootdir`` elsewhere): there every check errors for want
of its fixture. ``ops-verify`` (:func:`main`) runs pytest with :class:`RequireSuite`, which
turns that case into a usage error too; CI runs it.
"""

from __future__ import annotations

import importlib
import sys
from functools import partial

import pytest

SUITE_PLUGINS = ("plugin.options", "plugin.items", "plugin.reports")
"""The modules conftest.py loads, as pytest registers them."""
_REGISTERED = ("verify-reports",)
"""Objects the suite registers under a name of their own."""
REPORTING_PLUGINS = {"terminal": None, "html": "pytest_html.plugin",
                     "junitxml": None, "metadata": "pytest_metadata.plugin"}
"""pytest's plugins the suite reports through, and the module of each that is not pytest's."""
_WATCHED = pytest.StashKey[bool]()


def refusal(pluginmanager: pytest.PytestPluginManager) -> str | None:
    """Why this run may not go on without one of the suite's plugins, or None."""
    for name in (*SUITE_PLUGINS, *_REGISTERED):
        if pluginmanager.is_blocked(name):
            return (f"-p no:{name}: the suite's own plugin cannot be disabled (it decides "
                    "every verdict and writes the reports)")
    for name in REPORTING_PLUGINS:
        if pluginmanager.is_blocked(name):
            return (f"-p no:{name}: the suite reports through pytest's {name} plugin; keep it"
                    + (" (use -q for less output)" if name == "terminal" else ""))
    missing = [name for name, module in REPORTING_PLUGINS.items()
               if module and not pluginmanager.is_registered(importlib.import_module(module))]
    if missing:
        return (f"pytest's {' and '.join(missing)} plugins are not loaded (plugin autoload "
                "disabled?): the suite reports through them; unset "
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD, or add " + " ".join(f"-p {m}" for m in missing))
    return None


def at_registration(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """From each suite module's ``pytest_addoption``: a run refused from here on replaces the
    previous run's reports with its error, and a disabled plugin refuses it now (before
    pytest parses the command line, whose options a disabled plugin may have added)."""
    _replace_stale_reports_if_refused(parser, pluginmanager)
    if message := refusal(pluginmanager):
        raise pytest.UsageError(message)


def _replace_stale_reports_if_refused(parser: pytest.Parser,
                                      pluginmanager: pytest.PytestPluginManager) -> None:
    from plugin.plan import replace_stale_reports

    config = pluginmanager.get_plugin("pytestconfig")
    if config is not None and not config.stash.get(_WATCHED, False):
        config.stash[_WATCHED] = True  # its cleanup runs even when pytest refuses the run
        config.add_cleanup(partial(replace_stale_reports, config, parser))


def at_configure(config: pytest.Config) -> None:
    """From each suite module's ``pytest_configure``, before it reads the plan: a plugin
    blocked after the suite registered (``-p no:`` applied late) refuses the run too."""
    if message := refusal(config.pluginmanager):
        _refuse(config, message)


def _refuse(config: pytest.Config, message: str) -> None:
    if not hasattr(config, "workerinput"):
        from plugin.plan import stale_reports_dir, write_usage_error

        folder = stale_reports_dir(config)
        if folder.is_dir():
            write_usage_error(folder, message)
    raise pytest.UsageError(message)


class RequireSuite:
    """Registered by ``ops-verify`` as an object (no name a ``-p no:`` could block): a run
    in which the suite's plugins never loaded is a usage error, not a page of errors."""

    def pytest_addoption(self, parser: pytest.Parser,
                         pluginmanager: pytest.PytestPluginManager) -> None:
        # without the suite, pytest refuses its options (--dsn, --reports-dir): that
        # refusal replaces the previous run's reports too
        _replace_stale_reports_if_refused(parser, pluginmanager)

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        if all(config.pluginmanager.has_plugin(n) for n in SUITE_PLUGINS):
            return
        _refuse(config, refusal(config.pluginmanager) or (
            f"the suite's plugins were not loaded ({config.rootpath / 'conftest.py'} was not "
            "read: --noconftest, --confcutdir, -c or --rootdir elsewhere, or run outside the "
            "repository): nothing was verified"))


def main(args: list[str] | None = None) -> int:
    """``ops-verify``: ``pytest`` with the suite's plugins required (the command for CI)."""
    return int(pytest.main(sys.argv[1:] if args is None else args, plugins=[RequireSuite()]))


__all__ = ["REPORTING_PLUGINS", "SUITE_PLUGINS", "RequireSuite", "at_configure",
           "at_registration", "main", "refusal"]

if __name__ == "__main__":
    raise SystemExit(main())
