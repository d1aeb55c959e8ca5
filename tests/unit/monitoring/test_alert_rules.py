"""alerts.yaml is a valid rule file, every alert is tested both ways, and has its runbook."""

from __future__ import annotations

import subprocess

import pytest

from tests.unit.monitoring import files


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(files.promtool()), *args],
        cwd=files.MONITORING,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promtool_checks_the_rules() -> None:
    result = _run("check", "rules", "--lint=all", "--lint-fatal", files.ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    result = _run("test", "rules", files.ALERT_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_groups_sidecar_then_operator() -> None:
    names = [group["name"] for group in files.alert_groups()]
    assert names == ["stigg-entitlements-sidecar", "stigg-entitlements-operator"]
    for rule in files.alert_rules():
        prefix = "StiggSidecar" if rule.group.endswith("sidecar") else "StiggOperator"
        assert rule.alert.startswith(prefix), f"{rule.alert} in group {rule.group}"


@pytest.mark.parametrize("rule", files.alert_rules(), ids=lambda r: f"{r.alert}-{r.severity}")
def test_every_alert_is_complete(rule: files.AlertRule) -> None:
    assert "for" in rule.rule, f"{rule.alert}: no `for`"
    assert rule.severity in files.SEVERITIES, f"{rule.alert}: severity {rule.severity!r}"
    annotations = rule.rule.get("annotations", {})
    assert annotations.get("summary"), f"{rule.alert}: no summary"
    assert "{{" in annotations.get("description", ""), f"{rule.alert}: the description has no template"
    assert annotations.get("runbook_url") == files.RUNBOOK_BASE + rule.alert.lower()


def test_an_alert_name_is_one_alert_per_severity() -> None:
    seen: set[tuple[str, str]] = set()
    for rule in files.alert_rules():
        key = (rule.alert, rule.severity)
        assert key not in seen, f"{rule.alert} has two {rule.severity} rules"
        seen.add(key)


@pytest.mark.parametrize("rule", files.alert_rules(), ids=lambda r: f"{r.alert}-{r.severity}")
def test_every_alert_has_a_firing_case_and_a_silent_one(rule: files.AlertRule) -> None:
    cases = [
        (test, {alert.get("exp_labels", {}).get("severity") for alert in expected})
        for test, alertname, expected in files.alert_cases()
        if alertname == rule.alert
    ]
    firing = [test for test, severities in cases if rule.severity in severities]
    silent = [test for test, severities in cases if rule.severity not in severities]
    assert firing, f"no case of alerts.test.yaml expects {rule.alert} ({rule.severity}) to fire"
    assert silent, f"no case of alerts.test.yaml expects {rule.alert} ({rule.severity}) not to fire"


def test_every_expected_alert_carries_its_annotations() -> None:
    """A firing case states the annotations too (promtool then compares them exactly)."""
    for test, alertname, expected in files.alert_cases():
        for alert in expected:
            assert set(alert.get("exp_annotations", {})) >= {"summary", "description", "runbook_url"}, (
                f"{test}: {alertname} without its annotations"
            )


def test_no_case_names_an_unknown_alert() -> None:
    alerts = {rule.alert for rule in files.alert_rules()}
    unknown = {alertname for _, alertname, _ in files.alert_cases()} - alerts
    assert not unknown


@pytest.mark.parametrize("alert", sorted({r.alert for r in files.alert_rules()}))
def test_every_alert_has_its_runbook_section(alert: str) -> None:
    sections = files.runbook_sections()
    assert alert.lower() in sections, f"RUNBOOKS.md has no section `## {alert}`"
    body = sections[alert.lower()]
    for part in ("Meaning", "Impact", "Diagnosis", "Mitigation"):
        assert f"**{part}**" in body, f"the runbook of {alert} has no {part}"


def test_every_runbook_section_is_an_alert() -> None:
    alerts = {rule.alert.lower() for rule in files.alert_rules()}
    extra = set(files.runbook_sections()) - alerts - {"before-you-start"}
    assert not extra, f"RUNBOOKS.md sections without an alert: {sorted(extra)}"


def test_github_anchors() -> None:
    assert files.github_anchor("StiggSidecarUpstreamErrors") == "stiggsidecarupstreamerrors"
    assert files.github_anchor("Before you start") == "before-you-start"
