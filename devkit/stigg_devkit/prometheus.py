"""A real Prometheus as a Pod of a cluster, scraping the operator and the injected sidecars the
way the chart's PodMonitors tell a Prometheus Operator to, and evaluating the chart's alerts.

No registry is reachable, so the image is built here: Prometheus' static binary (built from the
Go module proxy, ``stigg_localcluster.build.ensure_tool("prometheus")``) alone in one layer,
packed as an OCI archive (``ensure_image``) and imported into the node like the project's own.
The Pod runs it non-root on a read-only root, with its configuration and rules from a ConfigMap
and its database in an ``emptyDir``; it finds its targets with Kubernetes service discovery
(``role: pod``), under a ServiceAccount allowed to list and watch Pods and nothing else.

* ``scrape_configs``: the PodMonitor-equivalent jobs (pure): ``stigg-sidecars`` keeps Pods
  labelled ``sidecar.stigg.io/injected=true`` on their ``stigg-http`` port, ``stigg-operator``
  the operator's Pods on their ``metrics`` port; both attach ``namespace``, ``pod`` and
  ``container`` labels as the Prometheus Operator does (the operator's job honours its metrics'
  own labels, as the chart's PodMonitor does: their ``namespace`` is the admitted Pod's).
* ``compressed``: a rule file with every duration (``for:``, ``keep_firing_for:`` and range
  windows) divided by a factor, so a live test sees an alert with a 5-minute ``for:`` fire and
  resolve in seconds; the expressions are otherwise the chart's own.
* ``manifests`` (pure) and ``deploy``; ``InClusterPrometheus`` queries it through a
  port-forward: ``query``, ``alerts``, ``targets``, ``selectors`` (the series selectors of an
  expression, from Prometheus' own parser, ``/api/v1/parse_query``).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml

from stigg_devkit import images, kube
from stigg_localcluster import build
from stigg_operator import keys

NAME = "prometheus"
PORT = 9090
CONFIG_DIR = "/etc/prometheus"
DATA_DIR = "/prometheus"
RULES_FILE = "alerts.yaml"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "stigg-e2e"}
OPERATOR_PORT_NAME = "metrics"  # manifests/deployment.yaml
OPERATOR_LABEL = ("app.kubernetes.io/name", "stigg-operator")  # the operator Pods' label


def release() -> str:
    """The Prometheus release the pinned module builds (``3.16.0`` for ``v0.316.0``)."""
    return build.TOOLS["prometheus"].stamped_version()


def image_ref() -> str:
    return f"localhost/stigg-e2e/prometheus:{release()}"


def _stderr(message: str) -> None:
    print(f"[prometheus] {message}", file=sys.stderr, flush=True)


def ensure_image(report: build.Reporter = _stderr) -> pathlib.Path:
    """The OCI archive of the Prometheus image, packed once per release beside the project's
    (progress on stderr)."""
    archive = images.cache_root() / f"prometheus-{release()}.oci.tar"
    if archive.is_file():
        return archive
    binary = build.ensure_tool("prometheus", report)
    archive.parent.mkdir(parents=True, exist_ok=True)
    images.pack_executable(
        binary,
        archive,
        path="bin/prometheus",
        ref=image_ref(),
        history=f"prometheus {release()} from the Go module proxy",
    )
    report(f"prometheus image: {archive.stat().st_size / 1e6:.0f} MB")
    return archive


def _pod_job(
    name: str, keep: Sequence[Mapping[str, Any]], port_name: str, *, honor_labels: bool = False
) -> dict[str, Any]:
    """A ``role: pod`` job that keeps the containers' ports named ``port_name`` of the Pods the
    ``keep`` rules select, labelled as a PodMonitor's targets are."""
    return {
        "job_name": name,
        "honor_labels": honor_labels,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            *keep,
            {
                "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                "regex": port_name,
                "action": "keep",
            },
            {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Pending|Running", "action": "keep"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        ],
    }


def _pod_label(name: str) -> str:
    """The service-discovery label holding a Pod's label ``name``."""
    return "__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", name)


def scrape_configs() -> list[dict[str, Any]]:
    """The jobs the chart's PodMonitors describe: the injected sidecars and the operator."""
    operator_key, operator_value = OPERATOR_LABEL
    return [
        _pod_job(
            "stigg-sidecars",
            [{"source_labels": [_pod_label(keys.INJECTED_LABEL)], "regex": "true", "action": "keep"}],
            keys.HTTP_PORT_NAME,
        ),
        _pod_job(
            "stigg-operator",
            [{"source_labels": [_pod_label(operator_key)], "regex": operator_value, "action": "keep"}],
            OPERATOR_PORT_NAME,
            honor_labels=True,  # its metrics' own `namespace` (the admitted Pod's) wins
        ),
    ]


def config(*, interval: str) -> dict[str, Any]:
    """prometheus.yml: the jobs above, scraped and evaluated every ``interval``."""
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": [f"{CONFIG_DIR}/{RULES_FILE}"],
        "scrape_configs": scrape_configs(),
    }


_DURATION = re.compile(r"(\d+)(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# A string literal (left alone) or a range or subquery window.
_RANGE = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|\[([0-9a-z]+)(:[0-9a-z]*)?\]""")


def _seconds(text: str) -> float:
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(number) * _SECONDS[unit] for number, unit in parts)


def compressed(rules: Mapping[str, Any], factor: float, *, floor_seconds: float = 1) -> dict[str, Any]:
    """``rules`` (a rule file: ``groups``) with every duration divided by ``factor`` (at least
    ``floor_seconds``): ``for``, ``keep_firing_for`` and the windows of ``expr``'s ranges and
    subqueries."""

    def scaled(text: str) -> str:
        return f"{max(floor_seconds, _seconds(text) / factor):g}s"

    def scaled_range(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        window, step = match.group(2), match.group(3)
        if step and step != ":":
            step = ":" + scaled(step[1:])
        return f"[{scaled(window)}{step or ''}]"

    groups = []
    for group in rules["groups"]:
        scaled_rules = []
        for original in group["rules"]:
            rule = dict(original)
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = scaled(str(rule[key]))
            rule["expr"] = _RANGE.sub(scaled_range, str(rule["expr"]))
            scaled_rules.append(rule)
        groups.append({**group, "rules": scaled_rules})
    return {**rules, "groups": groups}


def manifests(
    *, namespace: str, image: str, rules: Mapping[str, Any], interval: str = "2s"
) -> list[dict[str, Any]]:
    """The objects of a Prometheus in ``namespace``: RBAC to discover Pods, its configuration
    and ``rules``, the Pod."""
    meta = {"namespace": namespace, "labels": LABELS}
    cluster_name = f"stigg-e2e-{namespace}-prometheus"
    container = {
        "name": NAME,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/prometheus"],  # the image has a Cmd, no Entrypoint: args alone would replace it
        "args": [
            f"--config.file={CONFIG_DIR}/prometheus.yml",
            f"--storage.tsdb.path={DATA_DIR}",
            f"--web.listen-address=:{PORT}",
            "--storage.tsdb.retention.time=1h",
        ],
        "ports": [{"name": "web", "containerPort": PORT}],
        "readinessProbe": {"httpGet": {"path": "/-/ready", "port": PORT}, "periodSeconds": 1},
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
        ],
        "securityContext": kube.restricted_security_context(),
        "resources": {"limits": {"memory": "256Mi"}},
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": LABELS}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, **meta}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": cluster_name, "labels": LABELS},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": cluster_name, "labels": LABELS},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": NAME, **meta},
            "data": {
                "prometheus.yml": yaml.safe_dump(config(interval=interval), sort_keys=False),
                RULES_FILE: yaml.safe_dump(dict(rules), sort_keys=False),
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": NAME, **meta},
            "spec": {
                "serviceAccountName": NAME,
                "containers": [container],
                "volumes": [
                    {"name": "config", "configMap": {"name": NAME}},
                    {"name": "data", "emptyDir": {"sizeLimit": "256Mi"}},
                ],
                "terminationGracePeriodSeconds": 5,
            },
        },
    ]


class PrometheusError(RuntimeError):
    """The Prometheus API answered with an error (the message carries its ``error``)."""


@dataclasses.dataclass(frozen=True)
class InClusterPrometheus:
    """A Prometheus Pod, reached through a port-forward."""

    cluster: kube.Cluster
    namespace: str

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``."""
        port = self.cluster.port_forward(self.namespace, NAME, PORT)
        url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result (a vector's samples; [] when it selects nothing)."""
        data = self.api("query", query=expr)
        result = data["result"]
        return result if isinstance(result, list) else [result]

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts pending or firing now."""
        return list(self.api("alerts")["alerts"])

    def targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets", state="active")["activeTargets"])

    def selectors(self, expr: str) -> list[str]:
        """The series selectors in ``expr``, as Prometheus' parser reads them."""
        return sorted({_selector(node) for node in _nodes(self.api("parse_query", query=expr))})


def _nodes(tree: Any) -> Iterator[Mapping[str, Any]]:
    """The vector and matrix selectors of a parse tree (``/api/v1/parse_query``)."""
    if isinstance(tree, Mapping):
        if tree.get("type") in {"vectorSelector", "matrixSelector"}:
            yield tree
            return
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from _nodes(item)


_OPERATORS = {"=": "=", "!=": "!=", "=~": "=~", "!~": "!~"}


def _selector(node: Mapping[str, Any]) -> str:
    matchers = ", ".join(
        f"{m['name']}{_OPERATORS[m['type']]}{json.dumps(m['value'])}" for m in node.get("matchers") or ()
    )
    return "{" + matchers + "}"


def deploy(
    cluster: kube.Cluster,
    *,
    namespace: str,
    rules: Mapping[str, Any],
    interval: str = "2s",
    timeout: float = 120,
) -> InClusterPrometheus:
    """Apply a Prometheus' objects (its image must be on the nodes) and return once it is Ready."""
    cluster.apply(*manifests(namespace=namespace, image=image_ref(), rules=rules, interval=interval))
    ready = cluster.kubectl(
        "-n", namespace, "wait", "--for=condition=Ready", f"pod/{NAME}", f"--timeout={timeout:.0f}s",
        check=False, timeout=timeout + 30,
    )  # fmt: skip
    if "condition met" not in ready:
        logs = cluster.kubectl("-n", namespace, "logs", NAME, "--tail=20", check=False)
        raise kube.KubectlError(
            f"the Prometheus Pod is not Ready: {cluster.pod_trouble(namespace, NAME)}; its log ends:\n{logs}"
        )
    return InClusterPrometheus(cluster=cluster, namespace=namespace)


def remove(cluster: kube.Cluster, namespace: str) -> None:
    """Delete what ``deploy`` created (its namespace and its cluster-wide RBAC)."""
    cluster.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false", check=False)
    name = f"stigg-e2e-{namespace}-prometheus"
    cluster.kubectl("delete", "clusterrolebinding,clusterrole", name, "--ignore-not-found", check=False)
