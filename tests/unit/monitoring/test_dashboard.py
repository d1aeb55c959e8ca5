"""dashboard.json imports into Grafana and shows what it must (its queries parse with
Prometheus' own parser in tests/integration/monitoring/test_promtool.py)."""

from __future__ import annotations

from stigg_devkit import monitoring


def test_template_variables() -> None:
    board = monitoring.dashboard()
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
    board = monitoring.dashboard()
    assert 36 <= board["schemaVersion"] <= 41
    assert board["uid"]
    assert board["title"]
    assert "id" not in board  # Grafana assigns it on import
    ids = [panel["id"] for panel in monitoring.panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    rows = [panel["title"] for panel in board["panels"] if panel["type"] == "row"]
    assert rows == ["Sidecar", "Operator"]
    for panel in monitoring.panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]


def test_sidecar_panels_follow_the_namespace_and_pod_variables() -> None:
    for panel in monitoring.panels():
        for target in panel.get("targets") or ():
            expr = target["expr"]
            for name, _ in monitoring.label_matchers(expr):
                if name.startswith("sidecar_"):
                    assert 'namespace=~"$namespace"' in expr, f"{panel['title']}: {expr}"
                    assert 'pod=~"$pod"' in expr, f"{panel['title']}: {expr}"


def test_the_dashboard_shows_what_it_must() -> None:
    used = set()
    for _, expr in monitoring.dashboard_queries():
        used |= monitoring.metric_names(monitoring.concrete(expr))
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
        *monitoring.OPERATOR_METRICS,
    } - {"stigg_operator_admission_duration_seconds_sum", "stigg_operator_admission_duration_seconds_count"}
    assert wanted <= used, sorted(wanted - used)
