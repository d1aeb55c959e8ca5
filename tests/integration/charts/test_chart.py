"""The Helm chart with the real helm, no cluster: it lints strictly, renders with its defaults
and with every option, its schema refuses bad values naming the field, and each monitoring
toggle adds exactly its own objects (its files alone: tests/unit/charts)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.integration.charts import helm


def test_helm_lint_strict_passes() -> None:
    done = helm.run("lint", "--strict", str(helm.CHART))
    assert "0 chart(s) failed" in done.stdout


def test_helm_lint_strict_passes_with_every_toggle_on() -> None:
    toggles = ["podMonitor", "serviceMonitor", "prometheusRule", "dashboard"]
    values = {f"{toggle}.enabled": True for toggle in toggles}
    done = helm.run("lint", "--strict", str(helm.CHART), *helm.set_args(values))
    assert "0 chart(s) failed" in done.stdout


def test_the_defaults_render_the_operator() -> None:
    objects = helm.by_key(helm.render())
    deployment = objects[("apps/v1", "Deployment", helm.NAMESPACE, "stigg-operator")]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/stigg-entitlements/operator:0.1.0"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STIGG_OPERATOR_SIDECAR_IMAGE"] == "ghcr.io/stigg-entitlements/sidecar:0.1.0"
    assert env["STIGG_OPERATOR_METRICS_PORT"] == "8082"
    assert {"name": "metrics", "containerPort": 8082, "protocol": "TCP"} in container["ports"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    # Defaulted from the selector, as manifests/ writes it.
    for constraint in pod["topologySpreadConstraints"]:
        assert constraint["labelSelector"] == {"matchLabels": {"app.kubernetes.io/name": "stigg-operator"}}
    kinds = {k[1] for k in objects}
    assert {"CustomResourceDefinition", "StiggEntitlements", "PodDisruptionBudget", "Service"} <= kinds
    assert not kinds & {"PodMonitor", "ServiceMonitor", "PrometheusRule"}


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"webhook.failurePolicy": "Maybe"}, "/webhook/failurePolicy", "'Fail', 'Ignore'"),
        ({"replicaCount": -1}, "/replicaCount", "minimum"),
        ({"replicaCount": "two"}, "/replicaCount", "want integer"),
        ({"image.pullPolicy": "Sometimes"}, "/image/pullPolicy", "'Always', 'IfNotPresent', 'Never'"),
        ({"sidecar.image.repository": "has space"}, "/sidecar/image/repository", "pattern"),
        ({"bogus": 1}, "at ''", "'bogus' not allowed"),
        ({"webhook.bogus": 1}, "/webhook", "'bogus' not allowed"),
        ({"metrics.port": 70000}, "/metrics/port", "maximum"),
        ({"podMonitor.enabled": "yes"}, "/podMonitor/enabled", "want boolean"),
        ({"webhook.certValidityHours": 0}, "/webhook/certValidityHours", "minimum"),
        ({"logLevel": "LOUD"}, "/logLevel", "value must be one of"),
        ({"resources.requests.cpu": "lots"}, "/resources/requests/cpu", ""),
    ],
)
def test_the_schema_refuses_a_bad_value_naming_the_field(
    values: dict[str, Any], field: str, says: str
) -> None:
    for command in (
        ["template", helm.RELEASE, str(helm.CHART)],
        ["install", helm.RELEASE, str(helm.CHART), "--dry-run=client"],
        ["lint", "--strict", str(helm.CHART)],
    ):
        done = helm.run(*command, "--namespace", helm.NAMESPACE, *helm.set_args(values), check=False)
        output = done.stderr + done.stdout
        assert done.returncode != 0, f"helm {command[0]} accepted {values}"
        assert "don't meet the specifications of the schema" in output, output
        assert field in output, output
        assert says in output, output


def test_image_options() -> None:
    objects = helm.by_key(
        helm.render(
            {
                "image.repository": "localhost/stigg-entitlements-operator",
                "image.tag": "dev",
                "image.pullPolicy": "Never",
                "sidecar.image.repository": "localhost/stigg-entitlements-sidecar",
                "sidecar.image.tag": "dev",
                "admissionPolicies.extraSidecarRepositories": ["ghcr.io/stigg-entitlements/sidecar"],
                "imagePullSecrets": [{"name": "regcred"}],
            }
        )
    )
    pod = objects[("apps/v1", "Deployment", helm.NAMESPACE, "stigg-operator")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert (container["image"], container["imagePullPolicy"]) == (
        "localhost/stigg-entitlements-operator:dev",
        "Never",
    )
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STIGG_OPERATOR_SIDECAR_IMAGE"] == "localhost/stigg-entitlements-sidecar:dev"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    images = objects[("v1", "ConfigMap", helm.NAMESPACE, "stigg-operator-sidecar-images")]
    assert (
        images["data"]["repositories"]
        == "localhost/stigg-entitlements-sidecar,ghcr.io/stigg-entitlements/sidecar"
    )
    digest = "sha256:" + "a" * 64
    (deployment,) = [o for o in helm.render({"image.digest": digest}) if o["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/stigg-entitlements/operator@{digest}"


def test_operator_options() -> None:
    values = {
        "replicaCount": 3,
        "logLevel": "DEBUG",
        "webhook.failurePolicy": "Ignore",
        "webhook.certValidityHours": 2160,
        "webhook.certRenewBeforeHours": 240,
        "leaderElection.leaseDurationSeconds": 30,
        "extraEnv": [{"name": "STIGG_OPERATOR_DRIFT_INTERVAL_SECONDS", "value": "120"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {}},
        "podAnnotations": {"example.com/a": "1"},
        "podLabels": {"team": "billing", "app.kubernetes.io/name": "overridden?"},
        "priorityClassName": "system-cluster-critical",
        "metrics.enabled": False,
    }
    (deployment,) = [o for o in helm.render(values) if o["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 3
    template = deployment["spec"]["template"]
    # The selector's label wins over podLabels (else the Deployment would not own its Pods).
    assert template["metadata"]["labels"] == {"team": "billing", "app.kubernetes.io/name": "stigg-operator"}
    assert template["metadata"]["annotations"] == {"example.com/a": "1"}
    pod = template["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert pod["affinity"] == {"nodeAffinity": {}}
    assert pod["priorityClassName"] == "system-cluster-critical"
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LOG_LEVEL"] == "DEBUG"
    assert env["STIGG_OPERATOR_FAILURE_POLICY"] == "Ignore"
    assert env["STIGG_OPERATOR_CERT_VALIDITY_HOURS"] == "2160"
    assert env["STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS"] == "240"
    assert env["STIGG_OPERATOR_LEASE_DURATION_SECONDS"] == "30"
    assert env["STIGG_OPERATOR_DRIFT_INTERVAL_SECONDS"] == "120"
    assert "STIGG_OPERATOR_METRICS_PORT" not in env
    assert "metrics" not in {p["name"] for p in container["ports"]}


def test_the_webhook_names_follow_the_values_everywhere() -> None:
    values = {"webhook.configurationName": "my-injector", "webhook.certSecretName": "my-certs"}
    rendered = helm.render(values)
    text = json.dumps(rendered)
    assert "stigg-sidecar-injector" not in text
    assert "stigg-operator-webhook-certs" not in text
    objects = helm.by_key(rendered)
    role = objects[("rbac.authorization.k8s.io/v1", "ClusterRole", None, "stigg-operator")]
    assert {"resourceNames": ["my-injector"]}.items() <= role["rules"][-1].items()
    policy = objects[
        (
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicy",
            None,
            "stigg-operator-webhook-config",
        )
    ]
    assert "'my-injector'" in policy["spec"]["validations"][0]["expression"]


def test_the_admission_policies_judge_the_release_namespace_service_account() -> None:
    rendered = helm.run("template", "x", str(helm.CHART), "--namespace", "elsewhere").stdout
    assert "system:serviceaccount:elsewhere:stigg-operator" in rendered
    assert "stigg-system" not in rendered


def rules(objects: dict[helm.Key, dict[str, Any]]) -> dict[str, set[str]]:
    role = objects[("rbac.authorization.k8s.io/v1", "ClusterRole", None, "stigg-operator")]
    verbs: dict[str, set[str]] = {}
    for rule in role["rules"]:
        for resource in rule["resources"]:
            verbs.setdefault(resource, set()).update(rule["verbs"])
    return verbs


def test_the_rbac_trims() -> None:
    full = rules(helm.by_key(helm.render()))
    assert "delete" in full["pods"]
    assert {"create", "delete"} <= full["deployments"]
    trimmed = rules(
        helm.by_key(helm.render({"rbac.repairMissingSidecars": False, "rbac.standaloneMode": False}))
    )
    assert trimmed["pods"] == {"get", "list", "watch"}
    assert trimmed["deployments"] == {"get", "list", "watch", "patch"}
    for resource in ("services", "poddisruptionbudgets", "networkpolicies", "horizontalpodautoscalers"):
        assert trimmed[resource] == {"get", "patch"}, resource
    assert trimmed["configmaps"] == full["configmaps"]


def test_sidecar_resources_reach_cluster_default() -> None:
    resources = {"requests": {"cpu": "20m", "memory": "48Mi"}, "limits": {"memory": "96Mi"}}
    (default,) = [
        o for o in helm.render({"sidecar.resources": resources}) if o["kind"] == "StiggEntitlements"
    ]
    assert default["spec"]["sidecar"] == {"logLevel": "info", "resources": resources}
    off = helm.render(
        {"clusterDefault.enabled": False, "admissionPolicies.enabled": False, "cleanup.enabled": False}
    )
    assert not {o["kind"] for o in off} & {"StiggEntitlements", "ValidatingAdmissionPolicy", "Job"}


MONITORING = {
    "podMonitor": {("monitoring.coreos.com/v1", "PodMonitor", helm.NAMESPACE, "stigg-sidecars")},
    "serviceMonitor": {
        ("monitoring.coreos.com/v1", "ServiceMonitor", helm.NAMESPACE, "stigg-operator"),
        ("v1", "Service", helm.NAMESPACE, "stigg-operator-metrics"),
    },
    "prometheusRule": {("monitoring.coreos.com/v1", "PrometheusRule", helm.NAMESPACE, "stigg-operator")},
    "dashboard": {("v1", "ConfigMap", helm.NAMESPACE, "stigg-entitlements-dashboard")},
}


@pytest.mark.parametrize("toggle", sorted(MONITORING))
def test_a_monitoring_toggle_adds_exactly_its_objects(toggle: str) -> None:
    default = helm.by_key(helm.render())
    enabled = helm.by_key(helm.render({f"{toggle}.enabled": True}))
    assert set(enabled) - set(default) == MONITORING[toggle]
    assert set(default) <= set(enabled)
    for key, body in default.items():
        assert enabled[key] == body, f"{toggle}.enabled changed {key}"


def test_all_monitoring_toggles_together() -> None:
    values = {f"{toggle}.enabled": True for toggle in MONITORING}
    values.update({"podMonitor.labels": {"release": "prometheus"}, "podMonitor.interval": "30s"})
    objects = helm.by_key(helm.render(values))
    added = set(objects) - set(helm.by_key(helm.render()))
    assert added == set().union(*MONITORING.values())
    pods = objects[("monitoring.coreos.com/v1", "PodMonitor", helm.NAMESPACE, "stigg-sidecars")]
    assert pods["metadata"]["labels"]["release"] == "prometheus"
    assert pods["spec"]["namespaceSelector"] == {"any": True}
    assert pods["spec"]["selector"] == {"matchLabels": {"sidecar.stigg.io/injected": "true"}}
    assert pods["spec"]["podMetricsEndpoints"] == [
        {"port": "stigg-http", "path": "/metrics", "interval": "30s"}
    ]
    monitor = objects[("monitoring.coreos.com/v1", "ServiceMonitor", helm.NAMESPACE, "stigg-operator")]
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "honorLabels": True}]
    service = objects[("v1", "Service", helm.NAMESPACE, "stigg-operator-metrics")]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8082, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "stigg-operator"}
    rule = objects[("monitoring.coreos.com/v1", "PrometheusRule", helm.NAMESPACE, "stigg-operator")]
    alerts = yaml.safe_load((helm.CHART / "monitoring" / "alerts.yaml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    dashboard = objects[("v1", "ConfigMap", helm.NAMESPACE, "stigg-entitlements-dashboard")]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    stored = json.loads(dashboard["data"]["stigg-entitlements.json"])
    assert stored == json.loads((helm.CHART / "monitoring" / "dashboard.json").read_text())


def test_the_monitoring_objects_can_live_elsewhere() -> None:
    values: dict[str, Any] = {}
    for toggle in MONITORING:
        values.update({f"{toggle}.enabled": True, f"{toggle}.namespace": "monitoring"})
    namespaces = {
        o["kind"]: o["metadata"]["namespace"]
        for o in helm.render(values)
        if o["kind"].endswith(("Monitor", "Rule"))
    }
    assert namespaces == {
        "PodMonitor": "monitoring",
        "ServiceMonitor": "monitoring",
        "PrometheusRule": "monitoring",
    }


def test_a_service_monitor_needs_the_metrics_port() -> None:
    values = {"serviceMonitor.enabled": True, "metrics.enabled": False}
    done = helm.run("template", "x", str(helm.CHART), *helm.set_args(values), check=False)
    assert done.returncode != 0
    assert "serviceMonitor.enabled needs metrics.enabled" in done.stderr


def test_the_cleanup_hook_runs_before_helm_deletes_anything() -> None:
    hooks = [o for o in helm.render() if "helm.sh/hook" in (o["metadata"].get("annotations") or {})]
    assert {o["kind"] for o in hooks} == {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Job",
    }
    for hook in hooks:
        annotations = hook["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-delete"
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    (job,) = [o for o in hooks if o["kind"] == "Job"]
    weights = {o["kind"]: int(o["metadata"]["annotations"]["helm.sh/hook-weight"]) for o in hooks}
    assert all(weight < weights["Job"] for kind, weight in weights.items() if kind != "Job")
    (script,) = [o for o in hooks if o["kind"] == "ConfigMap"]
    assert script["data"]["cleanup.py"].strip() == (helm.CHART / "files" / "cleanup.py").read_text().strip()
    # Pod Security "restricted", as the namespace enforces.
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["STIGG_WEBHOOK_CONFIGURATION"] == "stigg-sidecar-injector"
    assert env["STIGG_POD_SELECTOR"] == "app.kubernetes.io/name=stigg-operator"


def test_the_cleanup_script_compiles() -> None:
    compile((helm.CHART / "files" / "cleanup.py").read_text(), "cleanup.py", "exec")
