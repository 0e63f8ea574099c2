"""Wires pytest to the checks library: options, invariant items, reports (see plugin/)."""

pytest_plugins = ["plugin.items", "plugin.options", "plugin.reports"]
