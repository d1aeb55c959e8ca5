"""Every alert of alerts.yaml is complete, tested both ways in alerts.test.yaml, and has its
runbook (promtool itself runs them in tests/integration/monitoring)."""

from __future__ import annotations

import pytest

from stigg_devkit import monitoring


def test_two_groups_sidecar_then_operator() -> None:
    names = [group["name"] for group in monitoring.alert_groups()]
    assert names == ["stigg-entitlements-sidecar", "stigg-entitlements-operator"]
    for rule in monitoring.alert_rules():
        prefix = "StiggSidecar" if rule.group.endswith("sidecar") else "StiggOperator"
        assert rule.alert.startswith(prefix), f"{rule.alert} in group {rule.group}"


@pytest.mark.parametrize("rule", monitoring.alert_rules(), ids=lambda r: f"{r.alert}-{r.severity}")
def test_every_alert_is_complete(rule: monitoring.AlertRule) -> None:
    assert "for" in rule.rule, f"{rule.alert}: no `for`"
    assert rule.severity in monitoring.SEVERITIES, f"{rule.alert}: severity {rule.severity!r}"
    annotations = rule.rule.get("annotations", {})
    assert annotations.get("summary"), f"{rule.alert}: no summary"
    assert "{{" in annotations.get("description", ""), f"{rule.alert}: the description has no template"
    assert annotations.get("runbook_url") == monitoring.RUNBOOK_BASE + rule.alert.lower()


def test_an_alert_name_is_one_alert_per_severity() -> None:
    seen: set[tuple[str, str]] = set()
    for rule in monitoring.alert_rules():
        key = (rule.alert, rule.severity)
        assert key not in seen, f"{rule.alert} has two {rule.severity} rules"
        seen.add(key)


@pytest.mark.parametrize("rule", monitoring.alert_rules(), ids=lambda r: f"{r.alert}-{r.severity}")
def test_every_alert_has_a_firing_case_and_a_silent_one(rule: monitoring.AlertRule) -> None:
    cases = [
        (test, {alert.get("exp_labels", {}).get("severity") for alert in expected})
        for test, alertname, expected in monitoring.alert_cases()
        if alertname == rule.alert
    ]
    firing = [test for test, severities in cases if rule.severity in severities]
    silent = [test for test, severities in cases if rule.severity not in severities]
    assert firing, f"no case of alerts.test.yaml expects {rule.alert} ({rule.severity}) to fire"
    assert silent, f"no case of alerts.test.yaml expects {rule.alert} ({rule.severity}) not to fire"


def test_every_expected_alert_carries_its_annotations() -> None:
    """A firing case states the annotations too (promtool then compares them exactly)."""
    for test, alertname, expected in monitoring.alert_cases():
        for alert in expected:
            assert set(alert.get("exp_annotations", {})) >= {"summary", "description", "runbook_url"}, (
                f"{test}: {alertname} without its annotations"
            )


def test_no_case_names_an_unknown_alert() -> None:
    alerts = {rule.alert for rule in monitoring.alert_rules()}
    unknown = {alertname for _, alertname, _ in monitoring.alert_cases()} - alerts
    assert not unknown


@pytest.mark.parametrize("alert", sorted({r.alert for r in monitoring.alert_rules()}))
def test_every_alert_has_its_runbook_section(alert: str) -> None:
    sections = monitoring.runbook_sections()
    assert alert.lower() in sections, f"RUNBOOKS.md has no section `## {alert}`"
    body = sections[alert.lower()]
    for part in ("Meaning", "Impact", "Diagnosis", "Mitigation"):
        assert f"**{part}**" in body, f"the runbook of {alert} has no {part}"


def test_every_runbook_section_is_an_alert() -> None:
    alerts = {rule.alert.lower() for rule in monitoring.alert_rules()}
    extra = set(monitoring.runbook_sections()) - alerts - {"before-you-start"}
    assert not extra, f"RUNBOOKS.md sections without an alert: {sorted(extra)}"


def test_github_anchors() -> None:
    assert monitoring.github_anchor("StiggSidecarUpstreamErrors") == "stiggsidecarupstreamerrors"
    assert monitoring.github_anchor("Before you start") == "before-you-start"
