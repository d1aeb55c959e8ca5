"""The chart's alerts and dashboard, read by Prometheus' own tools: promtool (built from the Go
module proxy, ``stigg-localcluster build-tools``) checks and lints the rule file, runs its unit
tests (alerts.test.yaml: every alert firing and not firing), and parses every dashboard query.

There is no promtool command that parses a bare expression, so each query (its template
variables replaced by concrete values) becomes a recording rule of a temporary rule file that
``promtool check rules`` reads.
"""

from __future__ import annotations

import pathlib
import subprocess

import yaml

from stigg_devkit import monitoring


def promtool(*args: str, cwd: pathlib.Path = monitoring.MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(monitoring.promtool()), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", "--lint=all", "--lint-fatal", monitoring.ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", monitoring.ALERT_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_parses(tmp_path: pathlib.Path) -> None:
    queries = monitoring.dashboard_queries()
    rules = [
        {"record": f"dashboard:query_{index}", "expr": monitoring.concrete(expr)}
        for index, (_, expr) in enumerate(queries)
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    where = "\n".join(f"dashboard:query_{i}: {w}" for i, (w, _) in enumerate(queries))
    assert result.returncode == 0, result.stdout + result.stderr + "\n" + where


def test_a_bad_query_is_caught(tmp_path: pathlib.Path) -> None:
    """The check above would notice: promtool refuses a rule file with a broken expression."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum("}]}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode != 0
    assert "sum(" in result.stdout + result.stderr or "parse error" in (result.stdout + result.stderr).lower()
