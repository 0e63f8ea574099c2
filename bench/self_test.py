"""Benchmark: how long ``--self-test`` takes (not a test; run by hand, on a quiet machine).

    .venv/bin/python bench/self_test.py [--rounds 3]

Times ``pytest verify/ --self-test`` on the shipped config and on the production example,
alternating, over ``--rounds`` rounds after one uncounted warm-up round (the caches of the
throwaway server and the expected schema are then warm, as on any run after the first),
with the machine's load average before and after; writes the result into
``bench/RESULTS.md`` (its own section, between markers, which ``bench/run.py`` keeps).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = re.compile(r"<!-- self-test -->.*?<!-- /self-test -->\n?", re.DOTALL)
TARGET_S = 20.0  # issue 18's bound, for the shipped config; the example has none
BOUNDED = "shipped config (verify/invariants.toml)"
CONFIGS = {
    "shipped config (verify/invariants.toml)": [],
    "production example (snapshot, sample rows)": [
        "--config", "examples/ops-pipeline-production.toml",
        "--migrations-dir", "tests/data/production/migrations"],
}


def self_test(args: list[str]) -> tuple[float, int, dict[str, object]]:
    """Wall seconds of the whole command, its exit status and its self_test section."""
    with tempfile.TemporaryDirectory() as reports:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "verify/", "-q", "-p",
                               "no:randomly", "--self-test", "--reports-dir", reports, *args],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        summary = json.loads((Path(reports) / "summary.json").read_text())
    return seconds, done.returncode, summary.get("self_test", {})


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    before = load()
    for extra in CONFIGS.values():  # warm-up: the caches a first run builds
        self_test(extra)
    samples: dict[str, list[tuple[float, int, dict[str, object]]]] = {k: [] for k in CONFIGS}
    for _ in range(args.rounds):
        for name, extra in CONFIGS.items():
            samples[name].append(self_test(extra))
    after = load()
    rows = []
    for name, found in samples.items():
        times = [s for s, _, _ in found]
        last = found[-1][2]
        median = statistics.median(times)
        rows.append((name, f"{median:.1f}", f"{min(times):.1f}-{max(times):.1f}",
                     f"{last.get('proven')} of {last.get('invariants')}",
                     "".join(str(code) for _, code, _ in found),
                     ("met" if median <= TARGET_S else "NOT met") if name == BOUNDED
                     else "no bound"))
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                            capture_output=True, text=True, check=False).stdout.strip()
    section = "\n".join([
        "<!-- self-test -->",
        "## `--self-test`",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/self_test.py`: "
        f"{args.rounds} rounds, alternating, after one uncounted warm-up round; wall seconds "
        "of the whole command. Suite: "
        f"{commit[:90]}; {os.cpu_count()} cores ({cpu()}); load average (1, 5, 15 min) "
        f"{before} before, {after} after.",
        "",
        tabulate(rows, headers=("config", "median s", "min-max s", "proven",
                                "exit codes", f"bound ≤ {TARGET_S:.0f} s"),
                 tablefmt="github"),
        "",
        "Reproduce: `.venv/bin/python bench/self_test.py --rounds "
        f"{args.rounds}`",
        "<!-- /self-test -->",
        ""])
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    text = SECTION.sub("", text).rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
