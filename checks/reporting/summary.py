"""``summary.json`` (the public interface's shape, plus environment and details) and the
verdict for a ticket comment, in Markdown (``summary.md``, GitHub) or Jira wiki markup."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checks.reporting.model import (
    MARKS,
    CheckResult,
    Run,
    clip,
    counts,
    evidence_line,
    grouped,
    methods,
    methods_line,
    role,
    run_outcome,
    self_test_tally,
    settled,
    target_title,
    verdict,
)

MD_ROWS = 25
"""At most this many lines of checks that did not pass go into a ticket comment."""


def summary(run: Run, results: Sequence[CheckResult]) -> dict[str, Any]:
    """The summary.json document; ``replica`` is the target's role and lag (each of
    several targets has its own in ``targets``)."""
    only = run.targets[0] if len(run.targets) == 1 else {}
    return {
        "outcome": run_outcome(run, results),
        "verdict": verdict(run, results),
        "target": {"kind": run.target_kind, "name": run.target_name,
                   **({"role": only["replica"]["role"]} if only.get("replica") else {})},
        "replica": only.get("replica"),
        "targets": run.targets,
        "release": run.release,
        "started_at": run.started_at,
        "duration_s": round(run.duration_s, 3),
        "counts": counts(results),
        **({"methods": found} if (found := methods(results)) else {}),
        "selection": {"expression": run.selection.expression,
                      "selected": run.selection.selected, "total": run.selection.total},
        "not_run": run.not_run,
        **({"ci_run": run.ci_url} if run.ci_url else {}),
        **({"report_url": run.report_url} if run.report_url else {}),
        **({"delivery_errors": run.delivery_errors} if run.delivery_errors else {}),
        **({"self_test": self_test_tally(results, run.not_run).to_dict()} if run.self_test else {}),
        "checks": [
            {"id": r.id, "outcome": r.outcome, "message": r.message,
             "duration_s": round(r.duration_s, 4), "area": r.area,
             **({"figures": r.figures} if r.figures else {}),
             **({"blocked_by": r.blocked_by} if r.blocked_by else {}),
             **({"fix": r.fix} if r.fix else {}),
             **({"method": r.method} if r.method else {}),
             **({"attempts": r.attempts, "first_passed_s": r.first_passed_s}
                if r.attempts > 1 or r.first_passed_s is not None else {})}
            for r in results
        ],
        "environment": run.environment,
        "details": [
            {"id": r.id, "area": r.area, "evidence": r.evidence, "sql": r.sql}
            for r in results if r.evidence or r.sql
        ],
    }


def summary_json(run: Run, results: Sequence[CheckResult]) -> str:
    return json.dumps(summary(run, results), indent=2, default=str) + "\n"


@dataclass(frozen=True)
class Markup:
    """How a ticket writes headings, lists, tables, links and text from outside."""

    heading: str
    bullet: str
    table_rule: bool
    """Markdown needs a ``| --- |`` row under the header; Jira wiki has none."""
    link: str
    """``{text}`` and ``{url}`` placeholders."""

    def code(self, text: str, limit: int = 300) -> str:
        """Text from outside (data, names, messages) as inline code: no link, image,
        mention, macro or HTML in it renders on the ticket."""
        raise NotImplementedError

    def cell(self, text: str) -> str:
        return self.code(text, 200).replace("|", "\\|")

    def row(self, cells: Sequence[str], header: bool = False) -> str:
        return f"| {' | '.join(cells)} |"


class _Markdown(Markup):
    def code(self, text: str, limit: int = 300) -> str:
        text = clip(" ".join(text.split()), limit)
        if not text:
            return ""
        fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
        pad = " " if text.startswith("`") or text.endswith("`") else ""
        return f"{fence}{pad}{text}{pad}{fence}"


_WIKI_SPECIAL = re.compile(r"([\\{}\[\]|*_+^~?!#\-])")


class _JiraWiki(Markup):
    def code(self, text: str, limit: int = 300) -> str:
        # Jira reads markup inside {{monospace}} too: every special character is escaped.
        text = clip(" ".join(text.split()), limit)
        return "{{" + _WIKI_SPECIAL.sub(r"\\\1", text) + "}}" if text else ""

    def cell(self, text: str) -> str:
        return self.code(text, 200) or " "  # "||" would start a header cell

    def row(self, cells: Sequence[str], header: bool = False) -> str:
        bar = "||" if header else "|"
        return f"{bar}{bar.join(cells)}{bar}"


MARKDOWN = _Markdown(heading="## ", bullet="- ", table_rule=True,
                     link="[{text}]({url})")
JIRA_WIKI = _JiraWiki(heading="h2. ", bullet="* ", table_rule=False,
                      link="[{text}|{url}]")


def summary_text(run: Run, results: Sequence[CheckResult], markup: Markup = MARKDOWN) -> str:
    """The verdict for the release ticket: outcome, target, counts, then what did not pass
    (failures first, one line of evidence each), then what did not run, then where the
    full report is."""
    code, bullet = markup.code, markup.bullet
    c = counts(results)
    server = run.environment.get("Server version")
    lines = [
        f"{markup.heading}{run.title}: {verdict(run, results)}",
        "",
        f"{bullet}Target: {target_title(run, code)}"
        + (f" (server {code(server)})" if server else ""),
        *(f"{bullet}Role{' of ' + code(t['label']) if t.get('label') else ''}: {code(found)}"
          for t in run.targets if (found := role(t))),
        f"{bullet}Release: {code(run.release) if run.release else 'not given'}",
        f"{bullet}Started: {run.started_at} ({run.duration_s:.1f} s)",
        f"{bullet}Checks: {run.selection.describe()}; " + ", ".join(
            f"{n} {outcome}" for outcome, n in c.items() if n or outcome in
            ("passed", "failed", "error", "skipped")),
    ]
    if read := methods_line(results):
        lines.append(f"{bullet}{read[0].upper()}{read[1:]}")
    if run.ci_url:
        lines.append(f"{bullet}CI run: {_link(markup, 'this run', run.ci_url)}")
    problems = grouped(results)
    if problems:
        lines += ["", markup.row(["result", "check", "why", "evidence"], header=True)]
        if markup.table_rule:
            lines.append(markup.row(["---"] * 4))
        for r, n in problems[:MD_ROWS]:
            check = code(r.short_id) + (f" and {n - 1} more" if n > 1 else "")
            why = r.message + (f" (fix: {r.fix})" if r.fix else "")
            lines.append(markup.row([MARKS[r.outcome], check, markup.cell(why),
                                     markup.cell(evidence_line(r))]))
        if len(problems) > MD_ROWS:
            lines.append(f"\n…and {len(problems) - MD_ROWS} more that did not pass: "
                         "see report.html")
    if retried := settled(results):
        lines += ["", "Retried in the settle window:", *(f"{bullet}{code(line)}"
                                                      for line in retried)]
    if run.not_run:
        lines += ["", f"Not run ({len(run.not_run)}): "
                  + ", ".join(code(i.split("::", 1)[-1]) for i in run.not_run[:10])
                  + (" …" if len(run.not_run) > 10 else "")]
    for problem in run.delivery_errors:
        lines += ["", f"NOT DELIVERED: {code(problem)}"]
    if run.report_url and not any(e.startswith("upload") for e in run.delivery_errors):
        lines += ["", f"Full report: {_link(markup, 'report.html', run.report_url)}"]
    return "\n".join(lines) + "\n"


def _link(markup: Markup, text: str, url: str) -> str:
    """A link the suite made itself (presigned, console or CI URL); an ``s3://`` location
    is shown as code: no browser opens it."""
    if not url.startswith("https://"):
        return markup.code(url, 2000)
    return markup.link.format(text=text, url=url)


def summary_markdown(run: Run, results: Sequence[CheckResult]) -> str:
    return summary_text(run, results, MARKDOWN)
