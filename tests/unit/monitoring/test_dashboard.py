"""dashboard.json imports into Grafana and every query parses with Prometheus's own parser.

There is no promtool command that parses a bare expression, so each query (its template
variables replaced by concrete values) becomes a recording rule of a temporary rule file that
``promtool check rules`` reads.
"""

from __future__ import annotations

import pathlib
import subprocess

import yaml

from tests.unit.monitoring import files


def test_every_query_parses(tmp_path: pathlib.Path) -> None:
    queries = files.dashboard_queries()
    rules = [
        {"record": f"dashboard:query_{index}", "expr": files.concrete(expr)}
        for index, (_, expr) in enumerate(queries)
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [str(files.promtool()), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    where = "\n".join(f"dashboard:query_{i}: {w}" for i, (w, _) in enumerate(queries))
    assert result.returncode == 0, result.stdout + result.stderr + "\n" + where


def test_a_bad_query_is_caught(tmp_path: pathlib.Path) -> None:
    """The check above would notice: promtool refuses a rule file with a broken expression."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum("}]}]}))
    result = subprocess.run(
        [str(files.promtool()), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0


def test_template_variables() -> None:
    board = files.dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "pod"):
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["datasource"]["uid"] == "${datasource}"
        assert variable["query"]["query"].startswith("label_values(")
        assert variable["includeAll"]
        assert variable["allValue"] == ".*"
    assert "$namespace" in variables["pod"]["query"]["query"]


def test_the_dashboard_is_importable() -> None:
    board = files.dashboard()
    assert 36 <= board["schemaVersion"] <= 41
    assert board["uid"]
    assert board["title"]
    assert "id" not in board  # Grafana assigns it on import
    ids = [panel["id"] for panel in files.panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    rows = [panel["title"] for panel in board["panels"] if panel["type"] == "row"]
    assert rows == ["Sidecar", "Operator"]
    for panel in files.panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]


def test_sidecar_panels_follow_the_namespace_and_pod_variables() -> None:
    for panel in files.panels():
        for target in panel.get("targets") or ():
            expr = target["expr"]
            for name, _ in files.label_matchers(expr):
                if name.startswith("sidecar_"):
                    assert 'namespace=~"$namespace"' in expr, f"{panel['title']}: {expr}"
                    assert 'pod=~"$pod"' in expr, f"{panel['title']}: {expr}"


def test_the_dashboard_shows_what_it_must() -> None:
    used = set()
    for _, expr in files.dashboard_queries():
        used |= files.metric_names(files.concrete(expr))
    wanted = {
        "sidecar_checks_total",
        "sidecar_upstream_request_duration_seconds_bucket",
        "sidecar_cache_hits_total",
        "sidecar_cache_misses_total",
        "sidecar_fallbacks_served_total",
        "sidecar_network_request_errors_total",
        "sidecar_redis_client_errors_total",
        "sidecar_stream_connected",
        "sidecar_outbox_depth",
        "sidecar_outbox_oldest_age_seconds",
        "sidecar_upstream_breaker_open",
        "sidecar_mirror_streams",
        *files.OPERATOR_METRICS,
    } - {"stigg_operator_admission_duration_seconds_sum", "stigg_operator_admission_duration_seconds_count"}
    assert wanted <= used, sorted(wanted - used)
