"""The operator's deployment manifests (``manifests/``) on the real apiserver, and the proof that
the RBAC they grant is sufficient and minimal.

* ``kubectl kustomize manifests/`` renders (the CRD comes in through ``crds/Kustomization``, which
  ``kubectl apply -f crds/`` ignores: the session's ``crd`` fixture still applies the folder); the
  settings the Deployment passes parse, and the names in them are those the RBAC rules, the
  Service and the webhook configuration use; no rule has a wildcard;
* ``kubectl apply -k manifests/ --dry-run=server`` is accepted (the CRD already established, as
  on a cluster where ``crds/`` was applied first);
* the operator's Pod (the Deployment's template) is admitted under Pod Security ``restricted``,
  by a namespace carrying ``namespace.yaml``'s labels, which reject an ordinary Pod;
* with the ServiceAccount and RBAC objects really applied: ``kubectl auth can-i`` as the
  ServiceAccount allows every request the operator makes and denies those it must not make, and
  its complete rule list (``can-i --list``) is exactly the expected one plus what any
  ServiceAccount has;
* the operator runs with a token of that ServiceAccount and nothing else. First start: it
  creates its certificate Secret and webhook configuration, reconciles ``manifests/samples``
  (Ready, ConfigMap, status) and injects a Pod. Restart over a corrupt certificate Secret: it
  replaces the Secret and the webhook configuration, and injects again. No request is ever
  forbidden, and each of these paths is seen succeeding in the client's request log.

No other operator runs in this module (it has no ``operator`` fixture): the webhook
configuration's name must be the one the RBAC names. The ServiceAccount and RBAC objects stay
(harmless); the webhook configuration and the sample namespace are removed, and the certificate
Secret is deleted, or put back as it was if it existed before (another module's operator may
have made it).
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import pathlib
import re
import shlex
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from stigg_devkit import childproc, waiting
from stigg_localcluster import cluster
from stigg_operator import keys, settings, webhookconfig
from tests.integration.operator import conftest

MANIFESTS = conftest.ROOT / "manifests"
SAMPLES = MANIFESTS / "samples"
NAMESPACE = conftest.OPERATOR_NAMESPACE
SERVICE_ACCOUNT = "stigg-operator"
AS_OPERATOR = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
# Any other ServiceAccount of the namespace: what every ServiceAccount may do anyway.
AS_BASELINE = f"system:serviceaccount:{NAMESPACE}:rbac-baseline"
CERT_SECRET = "stigg-operator-webhook-certs"
DEMO = "stigg-demo"  # the sample namespace and its StiggEntitlements
IMAGE = "ghcr.io/stigg-entitlements/operator:0.1.0"

SE = f"{keys.PLURAL}.{keys.GROUP}"
MWC = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
CRD = "customresourcedefinitions.apiextensions.k8s.io"

# `kubectl auth can-i` arguments, as the operator's ServiceAccount. "shop" is any namespace.
ALLOWED = [
    f"list {SE} --all-namespaces",
    f"watch {SE} --all-namespaces",
    f"patch {SE}/shop -n shop",
    f"patch {SE}/shop --subresource=status -n shop",
    "get configmaps/shop-stigg-defaults -n shop",
    "create configmaps -n shop",
    "patch configmaps/shop-stigg-defaults -n shop",
    "delete configmaps/shop-stigg-defaults -n shop",
    "list pods --all-namespaces",
    "watch pods --all-namespaces",
    "create events -n shop",
    "get pods/web -n shop",
    "delete pods/web -n shop",
    "list namespaces",
    "watch namespaces",
    "watch deployments.apps --all-namespaces",
    "patch deployments.apps/web -n shop",
    "create deployments.apps -n shop",
    "patch statefulsets.apps/db -n shop",
    "patch daemonsets.apps/agent -n shop",
    "create services -n shop",
    "create poddisruptionbudgets.policy -n shop",
    "create networkpolicies.networking.k8s.io -n shop",
    "create horizontalpodautoscalers.autoscaling -n shop",
    f"list {CRD}",
    f"watch {CRD}",
    f"create {MWC}",
    f"get {MWC}/{conftest.WEBHOOK_CONFIG}",
    f"update {MWC}/{conftest.WEBHOOK_CONFIG}",
    f"create secrets -n {NAMESPACE}",
    f"get secrets/{CERT_SECRET} -n {NAMESPACE}",
    f"update secrets/{CERT_SECRET} -n {NAMESPACE}",
    f"create leases.coordination.k8s.io -n {NAMESPACE}",
    f"get leases.coordination.k8s.io/stigg-operator -n {NAMESPACE}",
    f"update leases.coordination.k8s.io/stigg-operator -n {NAMESPACE}",
]
DENIED = [
    "'*' '*' --all-namespaces",
    "'*' '*' -n shop",
    "get secrets/stigg-api-key -n shop",
    "get secrets/bootstrap-token-abcdef -n kube-system",
    f"get secrets/another-secret -n {NAMESPACE}",
    "list secrets --all-namespaces",
    f"list secrets -n {NAMESPACE}",
    "watch secrets -n shop",
    "create secrets -n shop",
    "update secrets/stigg-api-key -n shop",
    f"update secrets/another-secret -n {NAMESPACE}",
    f"patch secrets/{CERT_SECRET} -n {NAMESPACE}",
    f"delete secrets/{CERT_SECRET} -n {NAMESPACE}",
    "create pods -n shop",
    "update pods/web -n shop",
    "patch pods/web -n shop",
    "create pods/web --subresource=exec -n shop",
    "list configmaps --all-namespaces",
    "update configmaps/shop-stigg-defaults -n shop",
    f"create {SE} -n shop",
    f"update {SE}/shop -n shop",
    f"delete {SE}/shop -n shop",
    f"update {SE}/shop --subresource=status -n shop",
    f"list {MWC}",
    f"update {MWC}/another-webhook",
    f"patch {MWC}/{conftest.WEBHOOK_CONFIG}",
    f"delete {MWC}/{conftest.WEBHOOK_CONFIG}",
    "create validatingwebhookconfigurations.admissionregistration.k8s.io",
    f"create {CRD}",
    f"update {CRD}/{keys.PLURAL}.{keys.GROUP}",
    "patch namespaces/shop",
    "update deployments.apps/web -n shop",
    "create statefulsets.apps -n shop",
    "delete daemonsets.apps/agent -n shop",
    "patch replicasets.apps/web-1 -n shop",
    "update services/web -n shop",
    "create pods/eviction -n shop",
    "delete events -n shop",
    f"create serviceaccounts/{SERVICE_ACCOUNT} --subresource=token -n {NAMESPACE}",
    "create clusterrolebindings.rbac.authorization.k8s.io",
    f"create rolebindings.rbac.authorization.k8s.io -n {NAMESPACE}",
    "bind clusterroles.rbac.authorization.k8s.io",
    "escalate clusterroles.rbac.authorization.k8s.io",
    "impersonate users",
    "impersonate serviceaccounts -n shop",
    "get nodes",
    "create leases.coordination.k8s.io -n shop",
    f"update leases.coordination.k8s.io/kube-controller-manager -n {NAMESPACE}",
    "update leases.coordination.k8s.io/kube-controller-manager -n kube-system",
    f"delete leases.coordination.k8s.io/stigg-operator -n {NAMESPACE}",
    f"patch leases.coordination.k8s.io/stigg-operator -n {NAMESPACE}",
    f"list leases.coordination.k8s.io -n {NAMESPACE}",
]

# The operator's rights beyond any ServiceAccount's, as `can-i --list` shows them: in its own
# namespace, and in any other (where the certificate Secret's Role does not apply).
RuleKey = tuple[str, tuple[str, ...]]
EXPECTED_ELSEWHERE: dict[RuleKey, set[str]] = {
    (SE, ()): {"list", "watch", "patch"},
    (f"{SE}/status", ()): {"patch"},
    ("configmaps", ()): {"get", "create", "patch", "delete"},
    ("pods", ()): {"get", "list", "watch", "delete"},
    ("namespaces", ()): {"list", "watch"},
    ("deployments.apps", ()): {"get", "list", "watch", "patch", "create", "delete"},
    ("statefulsets.apps", ()): {"get", "list", "watch", "patch"},
    ("daemonsets.apps", ()): {"get", "list", "watch", "patch"},
    ("replicasets.apps", ()): {"get"},
    ("services", ()): {"get", "patch", "create", "delete"},
    ("poddisruptionbudgets.policy", ()): {"get", "patch", "create", "delete"},
    ("networkpolicies.networking.k8s.io", ()): {"get", "patch", "create", "delete"},
    ("horizontalpodautoscalers.autoscaling", ()): {"get", "patch", "create", "delete"},
    ("events", ()): {"create"},
    (CRD, ()): {"list", "watch"},
    (MWC, ()): {"create"},
    (MWC, (conftest.WEBHOOK_CONFIG,)): {"get", "update"},
}
EXPECTED_IN_NAMESPACE: dict[RuleKey, set[str]] = {
    **EXPECTED_ELSEWHERE,
    ("secrets", ()): {"create"},
    ("secrets", (CERT_SECRET,)): {"get", "update"},
    ("leases.coordination.k8s.io", ()): {"create"},
    ("leases.coordination.k8s.io", ("stigg-operator",)): {"get", "update"},
}


# The admission policies (configmap-policy.yaml, admission-policy.yaml), each with its binding.
POLICIES = (
    "configmaps",
    "system-namespaces",
    "workloads",
    "sidecar-image",
    "standalone-objects",
    "entitlements",
    "webhook-config",
)


def _render(local: cluster.LocalCluster, path: pathlib.Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(local.kubectl("kustomize", str(path))) if doc]


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [obj for obj in objects if obj["kind"] == kind]
    return found


@pytest.fixture(scope="module")
def rendered(local_cluster: cluster.LocalCluster) -> list[dict[str, Any]]:
    return _render(local_cluster, MANIFESTS)


@pytest.fixture(scope="module")
def operator_namespace(api_client: client.ApiClient) -> str:
    conftest.ensure_namespace(client.CoreV1Api(api_client), NAMESPACE)
    return NAMESPACE


def _can(local: cluster.LocalCluster, user: str, args: str) -> bool:
    completed = local.kubectl("auth", "can-i", *shlex.split(args), f"--as={user}", check=False).strip()
    assert completed.startswith(("yes", "no")), f"can-i {args}: {completed!r}"
    return completed.startswith("yes")


def _effective_rules(local: cluster.LocalCluster, user: str, namespace: str) -> dict[RuleKey, set[str]]:
    """``can-i --list``: (resource or non-resource URLs, resource names) → verbs."""
    output = local.kubectl("auth", "can-i", "--list", f"--as={user}", f"--namespace={namespace}")
    rules: dict[RuleKey, set[str]] = {}
    for line in output.splitlines()[1:]:
        match = re.fullmatch(r"(\S*)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*", line)
        assert match, line
        resource, urls, names, verbs = match.groups()
        rules.setdefault((resource or urls, tuple(names.split())), set()).update(verbs.split())
    return rules


@pytest.fixture(scope="module")
def operator_rbac(
    local_cluster: cluster.LocalCluster, operator_identity: client.ApiClient, operator_namespace: str
) -> None:
    """The ServiceAccount, its RBAC and the admission policies judging it really applied, and
    enforced (``conftest.operator_identity``; not the Deployment): left in place. With the CRD, so
    that ``kubectl auth can-i`` knows its resources."""

    def bound() -> bool:  # the ClusterRole's rules apply everywhere, the Role's in its namespace
        here, elsewhere = (_effective_rules(local_cluster, AS_OPERATOR, ns) for ns in (NAMESPACE, "shop"))
        return here != elsewhere and elsewhere != _effective_rules(local_cluster, AS_BASELINE, "shop")

    waiting.wait_for(bound, what="the RBAC authorizer to see both bindings")


def test_manifests_render_with_consistent_names(
    local_cluster: cluster.LocalCluster, rendered: list[dict[str, Any]]
) -> None:
    assert sorted((obj["kind"], obj["metadata"]["name"]) for obj in rendered) == sorted(
        [
            ("Namespace", NAMESPACE),
            ("CustomResourceDefinition", f"{keys.PLURAL}.{keys.GROUP}"),
            ("ServiceAccount", SERVICE_ACCOUNT),
            ("ClusterRole", "stigg-operator"),
            ("ClusterRoleBinding", "stigg-operator"),
            ("Role", "stigg-operator"),
            ("RoleBinding", "stigg-operator"),
            *(
                (kind, f"stigg-operator-{policy}")
                for policy in POLICIES
                for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
            ),
            ("ConfigMap", "stigg-operator-sidecar-images"),
            ("Service", "stigg-operator"),
            ("Deployment", "stigg-operator"),
            ("PodDisruptionBudget", "stigg-operator"),
            (keys.KIND, keys.CLUSTER_DEFAULT_NAME),
        ]
    )
    for obj in rendered:
        cluster_scoped = {
            "Namespace",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        }
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]
    labels = _one(rendered, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    # Every admission policy judges the operator's ServiceAccount only, and denies.
    for obj in rendered:
        if obj["kind"] == "ValidatingAdmissionPolicy":
            conditions = {c["name"]: c["expression"] for c in obj["spec"]["matchConditions"]}
            assert conditions["is-the-stigg-operator"] == f"request.userInfo.username == '{AS_OPERATOR}'"
            assert obj["spec"]["failurePolicy"] == "Fail"
        if obj["kind"] == "ValidatingAdmissionPolicyBinding":
            assert obj["spec"]["validationActions"] == ["Deny"]

    deployment = _one(rendered, "Deployment")
    assert deployment["spec"]["replicas"] == 2, "no single point of failure for a Fail webhook"
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    budget = _one(rendered, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1
    assert (
        budget["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    pod = deployment["spec"]["template"]["spec"]
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    assert pod["serviceAccountName"] == SERVICE_ACCOUNT
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert "command" not in container, "the image's entrypoint runs"
    assert "args" not in container
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert [(m["name"], m["mountPath"]) for m in container["volumeMounts"]] == [("tmp", "/tmp")]  # noqa: S108
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert set(container["resources"]) == {"requests", "limits"}

    # The settings the operator will read, with the namespace the fieldRef gives it.
    env = {e["name"]: e for e in container["env"]}
    assert env["STIGG_OPERATOR_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    values = {name: e["value"] for name, e in env.items() if "value" in e}
    operator_settings = settings.Settings.from_env({**values, "STIGG_OPERATOR_NAMESPACE": NAMESPACE})
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["webhook"] == operator_settings.webhook_port == 9443
    assert ports["metrics"] == operator_settings.metrics_port == 8082, "the port Prometheus scrapes"
    liveness = urllib.parse.urlsplit(values["STIGG_OPERATOR_LIVENESS_ENDPOINT"])
    assert container["startupProbe"]["httpGet"] == container["livenessProbe"]["httpGet"], (
        "liveness once started"
    )
    probe = container["livenessProbe"]["httpGet"]
    assert (probe["path"], ports[probe["port"]]) == (liveness.path, liveness.port)
    readiness = urllib.parse.urlsplit(values["STIGG_OPERATOR_READINESS_ENDPOINT"])
    ready_probe = container["readinessProbe"]["httpGet"]
    assert (ready_probe["path"], ports[ready_probe["port"]]) == (readiness.path, readiness.port)
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}, "drains before SIGTERM"
    assert pod["terminationGracePeriodSeconds"] > 5
    assert env["STIGG_OPERATOR_POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}

    # The webhook configuration the operator writes reaches the Service, which reaches the Pod.
    service = _one(rendered, "Service")
    reference = webhookconfig.client_config(operator_settings, b"")["service"]
    assert (reference["namespace"], reference["name"]) == (NAMESPACE, service["metadata"]["name"])
    (service_port,) = service["spec"]["ports"]
    assert (service_port["port"], service_port["targetPort"]) == (reference["port"], ports["webhook"])
    assert service_port["port"] == 443
    assert reference["path"] == "/inject"
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= template_labels.items()

    # The RBAC names what the settings name, binds the ServiceAccount, and has no wildcard.
    cluster_role, role = _one(rendered, "ClusterRole"), _one(rendered, "Role")
    named = {
        (rule["resources"][0], name): set(rule["verbs"])
        for rule in cluster_role["rules"] + role["rules"]
        for name in rule.get("resourceNames", [])
    }
    assert named == {
        ("mutatingwebhookconfigurations", operator_settings.webhook_config_name): {"get", "update"},
        ("secrets", operator_settings.cert_secret): {"get", "update"},
        ("leases", operator_settings.lease_name): {"get", "update"},
    }
    for rule in cluster_role["rules"] + role["rules"]:
        assert "*" not in json.dumps(rule), rule
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        assert _one(rendered, kind)["subjects"] == [
            {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
        ]

    # The samples: a separate kustomization, with a placeholder key.
    samples = _render(local_cluster, SAMPLES)
    assert {obj["kind"] for obj in samples} == {"Namespace", "Secret", keys.KIND}
    assert _one(samples, "Namespace")["metadata"]["labels"][keys.NAMESPACE_INJECTION_LABEL] == "enabled"
    assert "REPLACE-ME" in _one(samples, "Secret")["stringData"]["SERVER_API_KEY"]
    assert not {(o["kind"], o["metadata"]["name"]) for o in samples} & {
        (o["kind"], o["metadata"]["name"]) for o in rendered
    }


def test_apply_is_accepted_by_the_apiserver(
    local_cluster: cluster.LocalCluster, crd: None, operator_namespace: str, rendered: list[dict[str, Any]]
) -> None:
    output = local_cluster.kubectl("apply", "-k", str(MANIFESTS), "--dry-run=server")
    lines = [line for line in output.splitlines() if line.endswith("(server dry run)")]
    assert len(lines) == len(rendered), output


def test_operator_pod_is_admitted_under_pod_security_restricted(
    api_client: client.ApiClient, namespace: str, rendered: list[dict[str, Any]]
) -> None:
    core = client.CoreV1Api(api_client)
    labels = _one(rendered, "Namespace")["metadata"]["labels"]
    pod_security = {k: v for k, v in labels.items() if k.startswith("pod-security.kubernetes.io/")}
    core.patch_namespace(namespace, {"metadata": {"labels": pod_security}})
    template = _one(rendered, "Deployment")["spec"]["template"]
    spec = copy.deepcopy(template["spec"])
    del spec["serviceAccountName"]  # it exists in stigg-system only; irrelevant to Pod Security
    operator_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "operator"}, "spec": spec}
    core.create_namespaced_pod(namespace, operator_pod, dry_run="All")

    ordinary = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ordinary"},
        "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
    }
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod(namespace, ordinary, dry_run="All")
    assert refused.value.status == 403
    assert 'violates PodSecurity "restricted' in json.loads(refused.value.body)["message"]


@pytest.mark.usefixtures("operator_rbac")
def test_rbac_allows_what_the_operator_does_and_nothing_more(local_cluster: cluster.LocalCluster) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = dict(
            zip(
                ALLOWED + DENIED,
                pool.map(lambda args: _can(local_cluster, AS_OPERATOR, args), ALLOWED + DENIED),
                strict=True,
            )
        )
    problems = [f"needed, not granted: {args}" for args in ALLOWED if not answers[args]]
    problems += [f"granted, must not be: {args}" for args in DENIED if answers[args]]

    # Nothing more than expected: the complete rule list, less what any ServiceAccount may do.
    for namespace, expected in ((NAMESPACE, EXPECTED_IN_NAMESPACE), ("shop", EXPECTED_ELSEWHERE)):
        baseline = _effective_rules(local_cluster, AS_BASELINE, namespace)
        extra = {
            key: remaining
            for key, verbs in _effective_rules(local_cluster, AS_OPERATOR, namespace).items()
            if (remaining := verbs - baseline.get(key, set()))
        }
        for key in sorted(extra.keys() | expected.keys()):
            if extra.get(key, set()) != expected.get(key, set()):
                problems.append(
                    f"in {namespace}, {key}: granted {sorted(extra.get(key, set()))}, "
                    f"expected {sorted(expected.get(key, set()))}"
                )
    assert not problems, "\n".join(problems)


def _operator(local: cluster.LocalCluster, kubeconfig: pathlib.Path, log: pathlib.Path) -> conftest.Operator:
    """The operator as conftest starts it, but as the ServiceAccount, logging every API request
    (the kubernetes client's urllib3 DEBUG lines) and serving kopf's liveness endpoint."""
    running = conftest.Operator(local, log, {"LOG_LEVEL": "DEBUG"})
    running.env["KUBECONFIG"] = str(kubeconfig)
    running.env["STIGG_OPERATOR_LIVENESS_ENDPOINT"] = f"http://127.0.0.1:{childproc.free_port()}/healthz"
    return running


def _requests(log: str) -> set[tuple[str, str, int]]:
    """(method, path, status) of every request the kubernetes client made."""
    found = re.findall(r'"(GET|POST|PUT|PATCH|DELETE) ([^ ?"]+)\S* HTTP/1\.1" (\d{3})', log)
    return {(method, path, int(status)) for method, path, status in found}


def _assert_never_forbidden(log: str) -> None:
    refused = re.compile(r'forbidden|not enough permissions|HTTP/1\.1" 403', re.IGNORECASE)
    assert [line for line in log.splitlines() if refused.search(line)] == []


@pytest.fixture
def cert_secret_set_aside(api_client: client.ApiClient, operator_namespace: str) -> Iterator[None]:
    """No certificate Secret during the test, so the operator must create one; afterwards the
    one it made is deleted, or the one that existed before is put back as it was."""
    core = client.CoreV1Api(api_client)
    try:
        before = core.read_namespaced_secret(CERT_SECRET, NAMESPACE)
    except client.ApiException as error:
        if error.status != 404:
            raise
        before = None
    if before is not None:
        core.delete_namespaced_secret(CERT_SECRET, NAMESPACE)
    try:
        yield
    finally:
        try:
            core.delete_namespaced_secret(CERT_SECRET, NAMESPACE)
        except client.ApiException as error:
            if error.status != 404:
                raise
        if before is not None:
            core.create_namespaced_secret(
                NAMESPACE,
                client.V1Secret(
                    metadata=client.V1ObjectMeta(name=CERT_SECRET, labels=before.metadata.labels),
                    type=before.type,
                    data=before.data,
                ),
            )


@pytest.fixture
def no_webhook_configuration(api_client: client.ApiClient) -> Iterator[None]:
    """No webhook configuration before (the operator must create it); afterwards it goes, and so
    does the sample namespace, whatever happens."""
    conftest.remove_webhook(api_client)
    try:
        yield
    finally:
        conftest.remove_webhook(api_client)
        try:
            client.CoreV1Api(api_client).delete_namespace(DEMO)
        except client.ApiException as error:
            if error.status != 404:
                raise


def _ready(api: client.ApiClient) -> bool:
    ready = conftest.condition(conftest.resource_status(api, DEMO, DEMO), "Ready") or {}
    return ready.get("status") == "True"


def _injected_pod(core: client.CoreV1Api, name: str) -> Any:
    pod = core.create_namespaced_pod(
        DEMO,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
        ),
    )
    assert [c.name for c in pod.spec.init_containers or []] == [keys.SIDECAR_CONTAINER], "injected"
    assert pod.metadata.labels[keys.INJECTED_LABEL] == "true"
    return pod


@pytest.mark.slow
@pytest.mark.usefixtures("crd", "operator_rbac", "cert_secret_set_aside", "no_webhook_configuration")
def test_operator_runs_with_its_service_account_only(
    local_cluster: cluster.LocalCluster, api_client: client.ApiClient, tmp_path: pathlib.Path
) -> None:
    core = client.CoreV1Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    kubeconfig = conftest.service_account_kubeconfig(local_cluster, tmp_path / "kubeconfig-stigg-operator")
    as_operator = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        review = client.AuthenticationV1Api(as_operator).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
    finally:
        as_operator.close()
    assert review.status.user_info.username == AS_OPERATOR

    # First start: no certificate Secret, no webhook configuration.
    first = _operator(local_cluster, kubeconfig, tmp_path / "first.log")
    try:
        first.start(api_client)
        local_cluster.kubectl("apply", "-k", str(SAMPLES))
        waiting.wait_for(lambda: _ready(api_client), what="the sample resource Ready (status patched)")
        configmap = core.read_namespaced_config_map(keys.configmap_name(DEMO), DEMO)
        assert configmap.metadata.owner_references[0].name == DEMO
        assert [(f.manager, f.operation) for f in configmap.metadata.managed_fields] == [
            (keys.FIELD_MANAGER, "Apply")
        ]
        assert json.loads(configmap.data[keys.DEFAULTS_FILE])
        waiting.wait_for(
            lambda: any(
                sa.metadata.name == "default" for sa in core.list_namespaced_service_account(DEMO).items
            ),
            what="the sample namespace's default ServiceAccount",
        )
        _injected_pod(core, "first")
        waiting.wait_for(
            lambda: conftest.resource_status(api_client, DEMO, DEMO).get("injectedPods") == 1,
            what="the injected Pod counted (Pods watched)",
        )
        liveness = first.env["STIGG_OPERATOR_LIVENESS_ENDPOINT"]  # http://127.0.0.1:PORT/healthz
        with urllib.request.urlopen(liveness, timeout=5) as health:  # noqa: S310 -- our own http URL
            assert health.status == 200
    finally:
        first.stop()
    log = first.log()
    _assert_never_forbidden(log)
    requests = _requests(log)
    for expected in [
        ("POST", f"/api/v1/namespaces/{NAMESPACE}/secrets", 201),
        ("POST", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", 201),
        # The defaults ConfigMap is created by server-side apply (a PATCH answered 201 Created).
        ("PATCH", f"/api/v1/namespaces/{DEMO}/configmaps/{keys.configmap_name(DEMO)}", 201),
        ("PATCH", f"/apis/{keys.GROUP}/{keys.VERSION}/namespaces/{DEMO}/{keys.PLURAL}/{DEMO}/status", 200),
    ]:
        assert expected in requests, expected
    # No Secret read but its own: the sample's API key Secret is judged from Pods (none ran here).
    assert {path for _, path, _ in requests if "/secrets" in path} == {
        f"/api/v1/namespaces/{NAMESPACE}/secrets",
        f"/api/v1/namespaces/{NAMESPACE}/secrets/{CERT_SECRET}",
    }

    # Restart over a corrupt certificate Secret: both it and the webhook configuration are replaced.
    core.replace_namespaced_secret(
        CERT_SECRET, NAMESPACE, client.V1Secret(metadata=client.V1ObjectMeta(name=CERT_SECRET), data={})
    )
    ca_before = admission.read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG).webhooks[0]
    second = _operator(local_cluster, kubeconfig, tmp_path / "second.log")
    try:
        second.start(api_client)
        webhook = admission.read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG).webhooks[0]
        assert webhook.client_config.ca_bundle != ca_before.client_config.ca_bundle
        assert webhook.client_config.url.startswith(f"https://127.0.0.1:{second.port}/")
        _injected_pod(core, "second")
        waiting.wait_for(
            lambda: conftest.resource_status(api_client, DEMO, DEMO).get("injectedPods") == 2,
            what="both injected Pods counted",
        )
        assert _ready(api_client)
    finally:
        second.stop()
    log = second.log()
    _assert_never_forbidden(log)
    requests = _requests(log)
    for expected in [
        ("GET", f"/api/v1/namespaces/{NAMESPACE}/secrets/{CERT_SECRET}", 200),
        ("PUT", f"/api/v1/namespaces/{NAMESPACE}/secrets/{CERT_SECRET}", 200),
        (
            "GET",
            f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{conftest.WEBHOOK_CONFIG}",
            200,
        ),
        (
            "PUT",
            f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{conftest.WEBHOOK_CONFIG}",
            200,
        ),
    ]:
        assert expected in requests, expected
