"""junit.xml as pytest wrote it, amended with the run's verdict: suite properties, and an
error testcase for each selected check the run never reached (a CI's test view must not
read a stopped run as green)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

NOT_RUN = "not run: the run stopped before this check reached a verdict"


def amend(path: Path, properties: Sequence[tuple[str, str]], not_run: Sequence[str]) -> None:
    """Add ``properties`` to the first test suite and an ``<error>`` testcase per node id
    in ``not_run``, named the way pytest names its testcases."""
    tree = ET.parse(path)
    root = tree.getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return
    found = suite.find("properties")
    if found is None:
        found = ET.Element("properties")
        suite.insert(0, found)
    for name, value in properties:
        ET.SubElement(found, "property", name=name, value=value)
    for nodeid in not_run:
        classname, name = _names(nodeid)
        case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
        ET.SubElement(case, "error", message=NOT_RUN).text = NOT_RUN
    if not_run:
        for key in ("errors", "tests"):
            suite.set(key, str(int(suite.get(key, "0")) + len(not_run)))
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _names(nodeid: str) -> tuple[str, str]:
    """``verify/test_x.py::test_y[z]`` -> (``verify.test_x``, ``test_y[z]``), as pytest's
    junitxml writes them."""
    path, *parts = nodeid.split("::")
    module = path.removesuffix(".py").replace("/", ".")
    return ".".join([module, *parts[:-1]]), parts[-1] if parts else path
