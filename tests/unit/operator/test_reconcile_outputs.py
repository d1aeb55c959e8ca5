"""What reconciliation writes, computed without a cluster: the defaults ConfigMap (owned by the
resource through the one owner-reference helper), cluster-default's copies (owned by nobody,
marked as copies), which Secrets the sidecar reads, and the status with its conditions."""

from __future__ import annotations

import datetime
import json

from stigg_operator import keys, model, reconcile
from tests.unit.operator.injection import pods as injector_pods

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(minutes=5)


def _config(spec: dict[str, object] | None = None) -> model.EffectiveConfig:
    return injector_pods.config(spec)


def test_owner_reference_is_a_controller_reference_to_the_resource() -> None:
    assert reconcile.owner_reference("shop", "uid-1") == {
        "apiVersion": f"{keys.GROUP}/{keys.VERSION}",
        "kind": keys.KIND,
        "name": "shop",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_the_configmap_holds_the_defaults_document_and_is_owned_by_the_resource() -> None:
    config = _config(injector_pods.full_spec())
    body = reconcile.configmap(config, "uid-1")
    assert (body["apiVersion"], body["kind"]) == ("v1", "ConfigMap")
    assert body["metadata"] == {
        "name": keys.configmap_name(injector_pods.NAME),
        "namespace": injector_pods.NAMESPACE,
        "labels": {
            "app.kubernetes.io/managed-by": "stigg-operator",
            f"{keys.GROUP}/config": injector_pods.NAME,
        },
        "ownerReferences": [reconcile.owner_reference(injector_pods.NAME, "uid-1")],
    }
    assert body["data"] == {keys.DEFAULTS_FILE: config.defaults_document()}
    assert json.loads(body["data"][keys.DEFAULTS_FILE]) == {
        "feature-api-calls": {"hasAccess": True, "usageLimit": 100}
    }


def test_a_copy_is_marked_with_its_source_and_owned_by_nobody() -> None:
    body = reconcile.configmap(_config(injector_pods.full_spec()), "uid-1")
    copy = reconcile.configmap_copy(body, "web")
    assert copy["metadata"] == {
        "name": body["metadata"]["name"],
        "namespace": "web",
        "labels": body["metadata"]["labels"],
        "annotations": {keys.COPY_ANNOTATION: f"{injector_pods.NAMESPACE}/{body['metadata']['name']}"},
    }
    assert copy["data"] == body["data"]
    assert copy["data"] is not body["data"], "a copy, not the same dict"
    assert reconcile.copy_source(body) == f"{injector_pods.NAMESPACE}/{body['metadata']['name']}"


def test_the_secrets_the_sidecar_reads() -> None:
    config = _config(injector_pods.full_spec())
    assert [(field, ref.name) for field, ref in reconcile.secret_refs(config)] == [
        ("spec.apiKeySecretRef", "stigg-api-key"),
        ("spec.cache.redis.passwordSecretRef", "redis-auth"),
    ]
    assert reconcile.secret_refs(_config({"offline": True})) == [], "offline without a key: nothing to check"


def test_status_ready_then_degraded_moves_transition_times_only_on_change() -> None:
    ready = reconcile.status(
        problem=None, generation=3, injected_pods=2, configmap_name="shop-stigg-defaults",
        previous_conditions=[], now=NOW, extra={"mode": "Sidecar", "standalone": None},
    )  # fmt: skip
    assert ready["observedGeneration"] == 3
    assert (ready["injectedPods"], ready["configMap"], ready["mode"]) == (2, "shop-stigg-defaults", "Sidecar")
    assert ready["standalone"] is None, "a None block is sent, so the merge patch removes it"
    conditions = {c["type"]: c for c in ready["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("True", "Reconciled")
    assert (conditions["Degraded"]["status"], conditions["Degraded"]["reason"]) == ("False", "Reconciled")
    assert conditions["Ready"]["lastTransitionTime"] == "2026-03-01T12:00:00Z"

    again = reconcile.status(
        problem=None, generation=4, injected_pods=2, configmap_name="shop-stigg-defaults",
        previous_conditions=ready["conditions"], now=LATER,
    )  # fmt: skip
    assert {c["lastTransitionTime"] for c in again["conditions"]} == {"2026-03-01T12:00:00Z"}
    assert {c["observedGeneration"] for c in again["conditions"]} == {4}

    problem = reconcile.Problem("SecretNotFound", "spec.apiKeySecretRef: Secret shop/k does not exist")
    degraded = reconcile.status(
        problem=problem, generation=4, injected_pods=0, configmap_name=None,
        previous_conditions=again["conditions"], now=LATER,
    )  # fmt: skip
    assert "configMap" not in degraded
    conditions = {c["type"]: c for c in degraded["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Degraded"]["status"]) == ("False", "True")
    assert conditions["Ready"]["reason"] == conditions["Degraded"]["reason"] == "SecretNotFound"
    assert conditions["Ready"]["message"] == problem.message
    assert conditions["Ready"]["lastTransitionTime"] == "2026-03-01T12:05:00Z"
