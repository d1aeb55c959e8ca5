"""The operator cannot change a workload it does not own beyond the fields it manages.
Impersonating its ServiceAccount (``manifests/rbac.yaml`` and ``manifests/admission-policy.yaml``
really applied), on a user's Deployment, StatefulSet and DaemonSet: the opt-in apply
(``workloads.opt_in_apply``: the template's ``sidecar.stigg.io/inject`` label and config
annotation) and the rollout stamp (``workloads.rollout_apply``) are admitted, by server-side
apply under the operator's field managers, as the operator sends them; a merge patch of the
containers' image or command, an added container, a hostPath volume, the replicas, a template
label or annotation it does not manage (``sidecar.stigg.io/image`` included: it would choose the
injected image), an owner reference that would make the workload "its own", and a delete are
each refused with the policy's words (dry runs). In kube-system even the opt-in is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from stigg_operator import keys, workloads
from stigg_operator.kube import rest
from tests.integration.operator import conftest, least_privilege

KINDS = ["Deployment", "StatefulSet", "DaemonSet"]
PLURALS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
TEMPLATE_SPEC = "may not change the Pod template spec"
TEMPLATE_FIELDS = "only the label sidecar.stigg.io/inject and the annotations"
CONTAINER = {"name": "app", "image": "example/app:1", "command": ["/app"]}


# A merge patch of each kind of change, and the words of its refusal.
def _template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


def _template_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"metadata": metadata}}}


CHANGES: dict[str, tuple[dict[str, Any], str]] = {
    "image": (
        _template({"containers": [{**CONTAINER, "image": "registry.example/miner:1"}]}),
        TEMPLATE_SPEC,
    ),
    "command": (
        _template({"containers": [{**CONTAINER, "command": ["sh", "-c", "env"]}]}),
        TEMPLATE_SPEC,
    ),
    "privileged": (
        _template({"containers": [{**CONTAINER, "securityContext": {"privileged": True}}]}),
        TEMPLATE_SPEC,
    ),
    "second container": (
        _template({"containers": [CONTAINER, {"name": "x", "image": "example/x:1"}]}),
        TEMPLATE_SPEC,
    ),
    "hostPath": (_template({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}), TEMPLATE_SPEC),
    "service account": (_template({"serviceAccountName": "admin"}), TEMPLATE_SPEC),
    "sidecar image annotation": (
        _template_metadata({"annotations": {keys.IMAGE_ANNOTATION: "registry.example/x:1"}}),
        TEMPLATE_FIELDS,
    ),
    "app label": (_template_metadata({"labels": {"tier": "evil"}}), TEMPLATE_FIELDS),
    "removed annotation": (_template_metadata({"annotations": {"team": None}}), TEMPLATE_FIELDS),
    "owner": (
        {"metadata": {"ownerReferences": [
            {"apiVersion": f"{keys.GROUP}/{keys.VERSION}", "kind": keys.KIND, "name": "shop",
             "uid": "00000000-0000-0000-0000-000000000001", "controller": True}
        ]}},
        "may not change the owners, labels or annotations",
    ),
    "workload annotation": (
        {"metadata": {"annotations": {keys.WORKLOAD_INJECT_ANNOTATION: "false"}}},
        "may not change the owners, labels or annotations",
    ),
}  # fmt: skip


def _merge_patch(api: client.ApiClient, kind: str, namespace: str, name: str, body: dict[str, Any]) -> Any:
    path = f"/apis/apps/v1/namespaces/{namespace}/{PLURALS[kind]}/{name}"
    return rest._call(  # the operator's own transport (kube.rest), with dryRun
        api,
        "PATCH",
        path,
        query_params=[("dryRun", "All")],
        headers={"Content-Type": "application/merge-patch+json"},
        body=body,
    )


def _create(api: client.ApiClient, kind: str, namespace: str, *, opt_in: bool = False) -> dict[str, Any]:
    body = least_privilege.an_app_deployment(kind, namespace, opt_in=opt_in)
    created: dict[str, Any] = rest.apply(api, "apps/v1", PLURALS[kind], body, manager="kubectl", force=True)
    return created


@pytest.fixture
def kube_system_daemonset(api_client: client.ApiClient) -> Iterator[str]:
    name = "stigg-lp-agent"
    body = least_privilege.an_app_deployment("DaemonSet", "kube-system", name, opt_in=True)
    rest.apply(api_client, "apps/v1", "daemonsets", body, manager="kubectl", force=True)
    try:
        yield name
    finally:
        rest.delete(api_client, "apps/v1", "daemonsets", "kube-system", name)


@pytest.mark.parametrize("kind", KINDS)
def test_the_opt_in_and_the_rollout_stamp_are_admitted(
    api_client: client.ApiClient, operator_identity: client.ApiClient, namespace: str, kind: str
) -> None:
    workload = _create(api_client, kind, namespace, opt_in=True)
    ref = workloads.ref_of(workload)
    opt_in = workloads.opt_in_apply(workload)
    assert opt_in is not None
    applied = rest.apply(
        operator_identity, "apps/v1", PLURALS[kind], opt_in, manager=keys.FIELD_MANAGER, force=False
    )
    template = applied["spec"]["template"]["metadata"]
    assert template["labels"][keys.POD_INJECT_LABEL] == "true"
    assert template["annotations"][keys.CONFIG_ANNOTATION] == "shop"
    stamp = workloads.rollout_apply(ref, "wiring-1")
    stamped = rest.apply(
        operator_identity, "apps/v1", PLURALS[kind], stamp, manager=keys.ROLLOUT_FIELD_MANAGER, force=True
    )
    assert workloads.rollout_stamp(stamped) == "wiring-1"
    # The user removes the opt-in: the operator's apply of nothing removes its fields, admitted.
    withdrawn_by_user = least_privilege.an_app_deployment(kind, namespace)  # no opt-in annotation
    rest.apply(api_client, "apps/v1", PLURALS[kind], withdrawn_by_user, manager="kubectl", force=True)
    current = rest.get(api_client, "apps/v1", PLURALS[kind], namespace, ref.name)
    assert current is not None
    withdrawn = workloads.opt_in_apply(current)
    assert withdrawn is not None
    after = rest.apply(
        operator_identity, "apps/v1", PLURALS[kind], withdrawn, manager=keys.FIELD_MANAGER, force=False
    )
    assert keys.POD_INJECT_LABEL not in after["spec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("kind", KINDS)
def test_any_other_change_is_refused(
    api_client: client.ApiClient, operator_identity: client.ApiClient, namespace: str, kind: str, change: str
) -> None:
    name = _create(api_client, kind, namespace)["metadata"]["name"]
    patch, words = CHANGES[change]
    _merge_patch(api_client, kind, namespace, name, patch)  # the change itself is valid: the admin may
    status, message = conftest.refusal(lambda: _merge_patch(operator_identity, kind, namespace, name, patch))
    assert status == 403, message
    assert words in message, message


def test_the_replicas_are_not_its_to_change(
    api_client: client.ApiClient, operator_identity: client.ApiClient, namespace: str
) -> None:
    name = _create(api_client, "Deployment", namespace)["metadata"]["name"]
    patch = {"spec": {"replicas": 50}}
    status, message = conftest.refusal(
        lambda: _merge_patch(operator_identity, "Deployment", namespace, name, patch)
    )
    assert status == 403, message
    assert "may not change the spec of Deployment" in message, message


@pytest.mark.parametrize("kind", KINDS)
def test_a_workload_it_does_not_own_cannot_be_deleted(
    api_client: client.ApiClient, operator_identity: client.ApiClient, namespace: str, kind: str
) -> None:
    name = _create(api_client, kind, namespace)["metadata"]["name"]
    path = f"/apis/apps/v1/namespaces/{namespace}/{PLURALS[kind]}/{name}"

    def delete() -> Any:
        return rest._call(operator_identity, "DELETE", path, query_params=[("dryRun", "All")])

    status, message = conftest.refusal(delete)
    if kind == "Deployment":  # RBAC lets it delete Deployments (Standalone mode's): the policy refuses
        assert status == 403, message
        assert "may create or delete only a Deployment a StiggEntitlements owns" in message, message
    else:
        assert (status, "cannot delete resource") == (
            403,
            message[message.find("cannot delete resource") :][:22],
        )


def test_in_kube_system_not_even_the_opt_in(
    api_client: client.ApiClient, operator_identity: client.ApiClient, kube_system_daemonset: str
) -> None:
    workload = rest.get(api_client, "apps/v1", "daemonsets", "kube-system", kube_system_daemonset)
    assert workload is not None
    opt_in = workloads.opt_in_apply(workload)
    assert opt_in is not None
    # The opt-in alone, which another namespace would admit: only the system-namespace policy refuses.
    status, message = conftest.refusal(
        lambda: rest.apply(
            operator_identity, "apps/v1", "daemonsets", opt_in, manager=keys.FIELD_MANAGER, force=False
        )
    )
    assert status == 403, message
    assert "the stigg operator never writes in the system namespace kube-system" in message, message
    # A container change: refused too (by whichever of the two policies the apiserver asks first).
    status, message = conftest.refusal(
        lambda: _merge_patch(
            operator_identity, "DaemonSet", "kube-system", kube_system_daemonset, CHANGES["image"][0]
        )
    )
    assert status == 403, message
    assert "never writes in the system namespace kube-system" in message or TEMPLATE_SPEC in message, message
