"""The chart with its default values renders what ``kubectl kustomize manifests/`` does: the same
objects (apiVersion, kind, namespace, name), CRDs included, with equal bodies once Helm's own
bookkeeping labels are removed. Every difference there is is listed below, with its reason;
an entry that no longer matches anything fails too, so the lists stay exact."""

from __future__ import annotations

import copy
import difflib
import pathlib
import subprocess
from typing import Any

import yaml

from stigg_localcluster import build
from tests.integration.charts import helm

CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "stiggentitlements.sidecar.stigg.io")
CLEANUP = "stigg-operator-cleanup"
RBAC = "rbac.authorization.k8s.io/v1"

# Objects only manifests/ has.
ONLY_IN_MANIFESTS: dict[helm.Key, str] = {
    ("v1", "Namespace", None, "stigg-system"): (
        "a chart does not create its release namespace (Helm stores the release in it, and "
        "--create-namespace would make one without the Pod Security labels): the chart's README "
        "has it created first from manifests/namespace.yaml"
    ),
}
# Objects only the chart has.
_HOOK = (
    "the pre-delete hook (cleanup.enabled): it removes at uninstall what the operator created at "
    "run time (webhook configuration, certificate Secret, Lease, defaults copies), which kustomize "
    "users delete by hand; Helm creates it only on `helm uninstall` and deletes it after"
)
ONLY_IN_CHART: dict[helm.Key, str] = {
    ("v1", "ServiceAccount", helm.NAMESPACE, CLEANUP): _HOOK,
    (RBAC, "ClusterRole", None, CLEANUP): _HOOK,
    (RBAC, "ClusterRoleBinding", None, CLEANUP): _HOOK,
    (RBAC, "Role", helm.NAMESPACE, CLEANUP): _HOOK,
    (RBAC, "RoleBinding", helm.NAMESPACE, CLEANUP): _HOOK,
    ("v1", "ConfigMap", helm.NAMESPACE, CLEANUP): _HOOK,
    ("batch/v1", "Job", helm.NAMESPACE, CLEANUP): _HOOK,
}
# Fields of manifests/' objects the chart's lack: (object, path to the field) -> reason.
ONLY_IN_MANIFESTS_FIELDS: dict[tuple[helm.Key, tuple[str, ...]], str] = {
    (CRD, ("metadata", "labels", "app.kubernetes.io/part-of")): (
        "Helm installs crds/ as they are, never templated: the chart's copy is byte-identical to "
        "crds/ (test_chart.py), which has no labels; kustomize adds its part-of label to it"
    ),
}


def kubectl() -> pathlib.Path:
    built = build.binaries().kubectl
    return built if built.exists() else build.ensure_built(node=False).kubectl


def kustomize(directory: pathlib.Path) -> list[dict[str, Any]]:
    """The objects of ``kubectl kustomize DIRECTORY``."""
    done = subprocess.run(
        [str(kubectl()), "kustomize", str(directory)], capture_output=True, text=True, check=True
    )
    return helm.documents(done.stdout)


def as_go_reads_it(objects_text: str, scratch: pathlib.Path) -> list[dict[str, Any]]:
    """The objects of a YAML stream as Go's YAML parser reads them, through a kustomization of
    that stream alone (no transformer): kustomize's output spells every value out, so both sides
    are compared as the apiserver gets them. Not PyYAML on helm's text: the two parsers differ on
    folded scalars whose lines are more indented (admission-policy.yaml's CEL expressions: Go
    keeps one more line break), which would be a difference of parsers, not of objects."""
    (scratch / "rendered.yaml").write_text(objects_text)
    (scratch / "kustomization.yaml").write_text("resources: [rendered.yaml]\n")
    return kustomize(scratch)


def pop_path(obj: dict[str, Any], path: tuple[str, ...]) -> bool:
    """Remove the field at ``path`` from ``obj``, and the mappings it leaves empty; False if it
    was not there."""
    holders = [obj]
    for part in path[:-1]:
        holders.append(holders[-1].get(part) or {})
    if path[-1] not in holders[-1]:
        return False
    del holders[-1][path[-1]]
    for parent, part in zip(reversed(holders[:-1]), reversed(path[:-1]), strict=True):
        if parent.get(part) == {}:
            del parent[part]
    return True


def as_yaml(obj: Any) -> list[str]:
    return yaml.safe_dump(obj, sort_keys=True).splitlines()


def render_text() -> str:
    args = ["template", helm.RELEASE, str(helm.CHART), "--namespace", helm.NAMESPACE, "--include-crds"]
    return helm.run(*args).stdout


def test_the_chart_renders_the_objects_of_manifests(tmp_path: pathlib.Path) -> None:
    manifests = helm.by_key(kustomize(helm.ROOT / "manifests"))
    rendered = helm.by_key(as_go_reads_it(render_text(), tmp_path))
    chart = {k: helm.without_bookkeeping(v) for k, v in rendered.items()}

    for listed, side in ((ONLY_IN_MANIFESTS, manifests), (ONLY_IN_CHART, chart)):
        stale = [k for k in listed if k not in side]
        assert not stale, f"allow-listed but not rendered (remove them from the list): {stale}"
    missing = set(manifests) - set(chart) - set(ONLY_IN_MANIFESTS)
    extra = set(chart) - set(manifests) - set(ONLY_IN_CHART)
    assert not missing, f"in manifests/ but not in the chart: {sorted(missing, key=str)}"
    assert not extra, f"in the chart but not in manifests/: {sorted(extra, key=str)}"
    assert not set(ONLY_IN_MANIFESTS) & set(chart)
    assert not set(ONLY_IN_CHART) & set(manifests)

    expected = copy.deepcopy(manifests)
    for (key, path), _reason in ONLY_IN_MANIFESTS_FIELDS.items():
        assert pop_path(expected[key], path), (
            f"allow-listed field {path} of {key} is not in manifests/ any more"
        )
    differing = []
    for key in sorted(set(manifests) & set(chart), key=str):
        if expected[key] != chart[key]:
            diff = difflib.unified_diff(
                as_yaml(expected[key]), as_yaml(chart[key]), "manifests/", "chart", lineterm=""
            )
            differing.append(f"{key}:\n" + "\n".join(diff))
    assert not differing, "bodies differ (beyond Helm's bookkeeping labels):\n" + "\n\n".join(differing)


def test_helm_adds_only_its_bookkeeping_labels() -> None:
    """What the comparison removes is exactly Helm's four labels, on every chart object but the
    CRD (Helm never templates crds/)."""
    for key, obj in helm.by_key(helm.render()).items():
        if key == CRD:
            assert "labels" not in obj["metadata"]
            continue
        labels = obj["metadata"]["labels"]
        assert set(helm.BOOKKEEPING_LABELS) <= set(labels), key
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/instance"] == helm.RELEASE
