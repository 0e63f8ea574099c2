"""The CI run that ran the suite, from the variables each CI sets, for the ticket."""

from __future__ import annotations

from collections.abc import Mapping


def ci_run_url(environ: Mapping[str, str]) -> str | None:
    """GitHub Actions (with the attempt, so a re-run links to itself), GitLab CI, Jenkins
    or Buildkite; None elsewhere."""
    if environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_RUN_ID"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        url = f"{server}/{environ.get('GITHUB_REPOSITORY', '')}/actions/runs/" \
              f"{environ['GITHUB_RUN_ID']}"
        attempt = environ.get("GITHUB_RUN_ATTEMPT")
        return f"{url}/attempts/{attempt}" if attempt else url
    for variable in ("CI_JOB_URL", "BUILD_URL", "BUILDKITE_BUILD_URL"):
        if url := environ.get(variable, "").strip():
            return url
    return None
