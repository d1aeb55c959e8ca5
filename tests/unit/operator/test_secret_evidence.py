"""The operator reads no Secret: whether a resource's Secrets exist is judged from its sidecars'
container states as the kubelet reports them (``workloads.sidecar_state``, kept in kopf's index
of injected Pods), by ``reconcile.secret_evidence``. A sidecar held in
``CreateContainerConfigError`` for a referenced Secret or key is ``SecretNotFound`` or
``SecretKeyNotFound``, naming the field, the Secret in that Pod's namespace, and the Pod; a
started sidecar of the current wiring verifies them; with neither, the status says they are
unverified, and the resource stays Ready."""

from __future__ import annotations

from typing import Any

from stigg_operator import keys, model, reconcile, workloads
from tests.unit.operator.injection import pods as injector_pods

NS = injector_pods.NAMESPACE


def _config() -> model.EffectiveConfig:
    # The API key in stigg-api-key (key server-key), Redis' password in redis-auth.
    return injector_pods.config(injector_pods.full_spec())


def _pod_body(
    name: str, *, wiring: str, state: dict[str, Any] | None, native: bool = True, namespace: str = NS
) -> dict[str, Any]:
    statuses = [{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}]
    sidecar = {"name": keys.SIDECAR_CONTAINER, "state": state or {}, "started": "running" in (state or {})}
    status = {"initContainerStatuses": [sidecar], "containerStatuses": statuses}
    if not native:  # Standalone mode's shared Pod: the sidecar is a regular container
        status = {"containerStatuses": [sidecar]}
    return {
        "metadata": {
            "namespace": namespace,
            "name": name,
            "annotations": {keys.INJECTED_ANNOTATION: f"{NS}/{injector_pods.NAME}@{wiring}"},
        },
        "status": status if state is not None else {},
    }


def _pod(name: str, state: dict[str, Any] | None, **kwargs: Any) -> workloads.InjectedPod:
    kwargs.setdefault("wiring", _config().wiring_hash())
    pod = workloads.injected_pod(_pod_body(name, state=state, **kwargs))
    assert pod is not None
    return pod


def _waiting(message: str, reason: str = reconcile.CONFIG_ERROR) -> dict[str, Any]:
    return {"waiting": {"reason": reason, "message": message}}


RUNNING = {"running": {"startedAt": "2026-03-01T12:00:00Z"}}


def test_the_sidecar_state_is_read_from_init_or_regular_container_statuses() -> None:
    assert workloads.sidecar_state(_pod_body("a", wiring="w", state=None)) == workloads.SidecarState()
    assert workloads.sidecar_state(_pod_body("a", wiring="w", state=RUNNING)).started
    shared = workloads.sidecar_state(_pod_body("a", wiring="w", state=_waiting("x"), native=False))
    assert shared == workloads.SidecarState(False, reconcile.CONFIG_ERROR, "x")


def test_a_sidecar_held_for_a_missing_secret_names_the_field_the_secret_and_the_pod() -> None:
    pods = [_pod("web-1", _waiting('secret "redis-auth" not found')), _pod("web-2", None)]
    problem, note = reconcile.secret_evidence(_config(), pods)
    assert problem == reconcile.Problem(
        "SecretNotFound",
        f"spec.cache.redis.passwordSecretRef: Secret {NS}/redis-auth does not exist: the sidecar of Pod "
        f'{NS}/web-1 cannot start (CreateContainerConfigError: secret "redis-auth" not found)',
    )
    assert (note.kind, note.status, note.reason) == (reconcile.SECRETS_VERIFIED, False, "SecretNotFound")


def test_a_missing_key_and_many_pods_say_so() -> None:
    message = f"couldn't find key server-key in Secret {NS}/stigg-api-key"
    pods = [_pod(f"web-{i}", _waiting(message)) for i in range(3)]
    problem, _ = reconcile.secret_evidence(_config(), pods)
    assert problem is not None
    assert problem.reason == "SecretKeyNotFound"
    assert problem.message.startswith(
        f"spec.apiKeySecretRef: Secret {NS}/stigg-api-key has no key 'server-key': "
        f"the sidecar of Pod {NS}/web-0 (and 2 more Pods) cannot start"
    )


def test_a_pod_served_from_another_namespace_names_the_secret_there() -> None:
    pods = [_pod("web", _waiting('secret "stigg-api-key" not found'), namespace="web-team")]
    problem, _ = reconcile.secret_evidence(_config(), pods)
    assert problem is not None
    assert "Secret web-team/stigg-api-key does not exist: the sidecar of Pod web-team/web" in problem.message


def test_other_waits_and_other_secrets_are_no_evidence() -> None:
    pods = [
        _pod("pull", _waiting('secret "stigg-api-key" not found', reason="ImagePullBackOff")),
        _pod("other", _waiting('secret "someone-elses" not found')),
        _pod("key", _waiting(f"couldn't find key other-key in Secret {NS}/stigg-api-key")),
        _pod("cm", _waiting('configmap "shop-stigg-defaults" not found')),
    ]
    problem, note = reconcile.secret_evidence(_config(), pods)
    assert problem is None
    assert (note.status, note.reason) == (False, "Unverified")


def test_before_a_sidecar_started_the_secrets_are_unverified_and_said_so() -> None:
    for pods in ([], [_pod("new", None)], [_pod("old", RUNNING, wiring="an-older-wiring")]):
        problem, note = reconcile.secret_evidence(_config(), pods)
        assert problem is None
        assert (note.kind, note.status, note.reason) == (reconcile.SECRETS_VERIFIED, False, "Unverified")
        assert note.message.startswith(
            "Secret stigg-api-key (key server-key), redis-auth (key redis-password) unverified: "
            "the operator reads no Secret"
        )


def test_a_started_sidecar_of_the_current_wiring_verifies_them() -> None:
    problem, note = reconcile.secret_evidence(_config(), [_pod("new", None), _pod("web", RUNNING)])
    assert problem is None
    assert (note.status, note.reason) == (True, "SidecarStarted")
    assert f"the sidecar of Pod {NS}/web started" in note.message


def test_no_secret_to_read() -> None:
    config = injector_pods.config({"offline": True})
    assert reconcile.secret_evidence(config, []) == (
        None,
        reconcile.Note(reconcile.SECRETS_VERIFIED, True, "NoSecrets", "the sidecar reads no Secret"),
    )
