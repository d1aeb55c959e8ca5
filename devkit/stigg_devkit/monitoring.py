"""The chart's monitoring files, read for tests: alerts, their unit tests, runbooks, dashboard.

Shared by the pure tests (``tests/unit/monitoring``), the promtool tests
(``tests/integration/monitoring``) and the live test against a real Prometheus
(``tests/integration/node/test_monitoring_live.py``):
``alert_rules`` (every alerting rule, with its group), ``runbook_anchors`` (the GitHub anchors
of RUNBOOKS.md's headings), ``dashboard_queries`` (every PromQL query of the dashboard, panels
and template variables), ``concrete`` (a dashboard query with its template variables replaced
by values PromQL accepts), ``metric_names`` and ``label_matchers`` (what a PromQL expression
reads), ``KNOWN_METRICS`` (every series name the rules may use, with its labels) and
``promtool`` (the binary, built once by the devkit).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from stigg_localcluster import build
from stigg_operator import metrics as operator_metrics
from stigg_sidecar import metrics as sidecar_metrics

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
MONITORING = REPO_ROOT / "charts" / "stigg-entitlements" / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
ALERT_TESTS = MONITORING / "alerts.test.yaml"
RUNBOOKS = MONITORING / "RUNBOOKS.md"
DASHBOARD = MONITORING / "dashboard.json"
RUNBOOK_BASE = (
    "https://github.com/stigg-entitlements/stigg-entitlements/blob/main/"
    "charts/stigg-entitlements/monitoring/RUNBOOKS.md#"
)
SEVERITIES = ("critical", "warning", "info")

# The operator's metrics as exposed, with their labels: the contract of
# ``stigg_operator.metrics`` (``operator_registry_names`` reads the names back from its real
# registry, and a test holds the two equal; prometheus_client does not expose label names).
OPERATOR_METRICS: Mapping[str, frozenset[str]] = {
    "stigg_operator_admissions_total": frozenset({"namespace", "result"}),
    "stigg_operator_admission_duration_seconds_bucket": frozenset({"result", "le"}),
    "stigg_operator_admission_duration_seconds_sum": frozenset({"result"}),
    "stigg_operator_admission_duration_seconds_count": frozenset({"result"}),
    "stigg_operator_reconcile_errors_total": frozenset({"reason"}),
    "stigg_operator_resources": frozenset({"condition", "status"}),
    "stigg_operator_missing_sidecars": frozenset({"namespace"}),
    "stigg_operator_rollouts_total": frozenset({"namespace"}),
    "stigg_operator_certificate_expiry_timestamp_seconds": frozenset(),
    "stigg_operator_leader": frozenset(),
}
# Series from elsewhere: Prometheus's own `up`, and kube-state-metrics' restart counters.
EXTERNAL_METRICS: Mapping[str, frozenset[str]] = {
    "up": frozenset(),
    "kube_pod_container_status_restarts_total": frozenset({"container", "uid"}),
    "kube_pod_init_container_status_restarts_total": frozenset({"container", "uid"}),
}
# Labels the scrape adds to every series (a PodMonitor's or ServiceMonitor's target labels).
TARGET_LABELS = frozenset({"namespace", "pod", "job", "instance", "container", "endpoint", "service"})


def _sidecar_metrics() -> dict[str, frozenset[str]]:
    """Every series name the sidecar exposes (a counter's ``_total``, a histogram's ``_bucket``,
    ``_sum``, ``_count``, a gauge's bare name), read from its registry, with its labels."""
    names: dict[str, frozenset[str]] = {}
    for metric in sidecar_metrics.Metrics().registry.collect():
        labels = frozenset(metric.labelnames)
        for name in metric.sample_names():
            if name == metric.name and metric.kind != "gauge":
                continue  # a counter or a histogram is never exposed under its bare name
            names[name] = labels | {"le"} if name.endswith("_bucket") else labels
    return names


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def operator_registry_names() -> set[str]:
    """The ``stigg_operator_*`` series names a real operator's registry exposes."""
    return {
        family.name + suffix
        for family in operator_metrics.Metrics().registry.collect()
        if family.name.startswith("stigg_operator_")
        for suffix in _SUFFIXES[family.type]
    }


KNOWN_METRICS: Mapping[str, frozenset[str]] = {**_sidecar_metrics(), **OPERATOR_METRICS, **EXTERNAL_METRICS}


@dataclasses.dataclass(frozen=True)
class AlertRule:
    group: str
    alert: str
    expr: str
    severity: str
    rule: Mapping[str, Any]

    @property
    def anchor(self) -> str:
        url = str(self.rule.get("annotations", {}).get("runbook_url", ""))
        return url.partition("#")[2]


@functools.cache
def _yaml(path: pathlib.Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_groups() -> list[Mapping[str, Any]]:
    return list(_yaml(ALERTS)["groups"])


def alert_rules() -> list[AlertRule]:
    return [
        AlertRule(
            group=group["name"],
            alert=rule["alert"],
            expr=rule["expr"],
            severity=str(rule.get("labels", {}).get("severity", "")),
            rule=rule,
        )
        for group in alert_groups()
        for rule in group["rules"]
        if "alert" in rule
    ]


def alert_tests() -> list[Mapping[str, Any]]:
    return list(_yaml(ALERT_TESTS)["tests"])


def alert_cases() -> Iterator[tuple[str, str, list[Mapping[str, Any]]]]:
    """Every ``alert_rule_test`` case: its test's name, the alert name, the alerts expected."""
    for test in alert_tests():
        for case in test.get("alert_rule_test") or ():
            yield test["name"], case["alertname"], list(case.get("exp_alerts") or ())


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lowercase, punctuation dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_anchors() -> set[str]:
    return {
        github_anchor(match.group(1))
        for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", RUNBOOKS.read_text(), re.MULTILINE)
    }


def runbook_sections() -> dict[str, str]:
    """Each ``## `` section of RUNBOOKS.md by its anchor, with its text up to the next one."""
    sections: dict[str, str] = {}
    parts = re.split(r"^## +(.+)$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[github_anchor(heading)] = body
    return sections


def dashboard() -> Mapping[str, Any]:
    board: Mapping[str, Any] = json.loads(DASHBOARD.read_text())
    return board


def panels(board: Mapping[str, Any] | None = None) -> Iterator[Mapping[str, Any]]:
    """Every panel, rows' nested ones included."""
    for panel in (board or dashboard())["panels"]:
        yield panel
        yield from panel.get("panels") or ()


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target, and the selector of every label_values variable."""
    queries = [
        (f"panel {panel['title']!r} {target.get('refId', '')}", target["expr"])
        for panel in panels()
        for target in panel.get("targets") or ()
        if target.get("expr")
    ]
    for variable in dashboard()["templating"]["list"]:
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, Mapping) else query
        match = re.fullmatch(r"\s*label_values\((.+),\s*([a-zA-Z_]\w*)\s*\)\s*", text)
        if match is None:
            raise AssertionError(f"variable {variable['name']}: not label_values(selector, label): {text}")
        queries.append((f"variable {variable['name']}", match.group(1)))
    return queries


# What a Grafana template variable may stand for, each replaced by a value PromQL accepts: a
# regex for the multi-value label variables, durations for Grafana's intervals.
TEMPLATE_VALUES = {
    "namespace": ".*",
    "pod": ".*",
    "__rate_interval": "2m",
    "__interval": "30s",
    "__range": "6h",
    "__range_s": "21600",
    "datasource": "prometheus",
}


def concrete(expr: str, values: Mapping[str, str] = TEMPLATE_VALUES) -> str:
    """``expr`` with ``$name``, ``${name}`` and ``[[name]]`` replaced; an unknown variable raises."""

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in values:
            raise KeyError(f"unknown template variable {name!r} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", value, expr)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
)


def _without_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (identifiers that are not functions,
    aggregations, keywords, label names or durations)."""
    text = _without_strings(expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name in _KEYWORDS or name in {"inf", "Inf", "nan", "NaN"}:
            continue
        names.add(name)
    return names


def label_matchers(expr: str) -> set[tuple[str, str]]:
    """(series name, label name) for every label matcher written on a named selector."""
    text = _without_strings(expr)
    pairs = set()
    for match in re.finditer(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", text):
        for label in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", match.group(2)):
            pairs.add((match.group(1), label))
    return pairs


def promtool() -> pathlib.Path:
    """promtool, built from the Go module proxy on first use (``stigg-localcluster build-tools``)."""
    return build.ensure_tool("promtool")
