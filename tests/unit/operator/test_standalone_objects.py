"""What standalone mode renders (pure): the shared Deployment, Service, PDB, NetworkPolicy and
HPA; and what an opted-in Pod gets in that mode (the address only)."""

from __future__ import annotations

import pytest

from stigg_operator import keys, model, standalone
from stigg_operator.injection import overrides, template
from tests.unit.operator.injection import pods as injector_pods


def _config(**standalone_spec: object) -> model.EffectiveConfig:
    spec = {**injector_pods.full_spec(), "mode": "Standalone", "standalone": standalone_spec}
    return injector_pods.config(spec)


def test_the_deployment_runs_the_injected_container_as_a_regular_one() -> None:
    config = _config(replicas=3)
    body = standalone.deployment(config)
    pod_template = body["spec"]["template"]
    (container,) = pod_template["spec"]["containers"]
    injected = template.sidecar_container(config, overrides.Overrides())
    assert "restartPolicy" not in container
    *env, delay = container["env"]
    assert delay == {"name": "SIDECAR_SHUTDOWN_DELAY_SECONDS", "value": "5"}, "Services stop routing first"
    assert {**container, "env": env, "restartPolicy": "Always"} == injected, "same image, env, probes, mounts"
    assert pod_template["metadata"]["labels"][keys.POD_INJECT_LABEL] == "false", "never injected itself"
    assert body["spec"]["replicas"] == 3
    assert body["spec"]["selector"]["matchLabels"].items() <= pod_template["metadata"]["labels"].items()
    assert {v["name"] for v in pod_template["spec"]["volumes"]} == {keys.DEFAULTS_VOLUME, keys.STATE_VOLUME}
    assert pod_template["spec"]["automountServiceAccountToken"] is False


def test_with_an_autoscaler_the_deployment_leaves_replicas_to_it() -> None:
    config = _config(autoscaling={"minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 70})
    assert "replicas" not in standalone.deployment(config)["spec"]
    hpa = standalone.autoscaler(config)
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"]["name"] == config.standalone_name
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert standalone.autoscaler(_config()) is None


def test_the_service_targets_the_named_ports() -> None:
    config = _config()
    ports = {p["name"]: p for p in standalone.service(config)["spec"]["ports"]}
    assert ports[keys.GRPC_PORT_NAME]["port"] == 50052
    assert ports[keys.GRPC_PORT_NAME]["targetPort"] == keys.GRPC_PORT_NAME
    assert ports[keys.HTTP_PORT_NAME]["port"] == 8081


@pytest.mark.parametrize("cluster_wide", [False, True])
def test_the_network_policy_admits_opted_in_pods_on_grpc_only(cluster_wide: bool) -> None:
    config = _config()
    policy = standalone.network_policy(config, cluster_wide=cluster_wide)["spec"]
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": 50052, "protocol": "TCP"}]
    namespaces, pods = rule["from"]
    own = {} if cluster_wide else {"kubernetes.io/metadata.name": injector_pods.NAMESPACE}
    assert namespaces["namespaceSelector"]["matchLabels"] == {
        **own,
        keys.NAMESPACE_INJECTION_LABEL: "enabled",
    }
    assert pods == {
        "namespaceSelector": {"matchLabels": own},
        "podSelector": {"matchLabels": {keys.POD_INJECT_LABEL: "true"}},
    }


def test_min_available_that_cannot_be_met_is_a_spec_error() -> None:
    with pytest.raises(model.SpecError, match=r"spec\.standalone\.minAvailable"):
        _config(replicas=2, minAvailable=3)


def test_an_opted_in_pod_gets_the_address_only() -> None:
    config = _config()
    pod = injector_pods.bare_pod()
    pod["spec"]["containers"][0]["env"] = [{"name": keys.APP_PORT_ENV, "value": "1"}]
    injected = injector_pods.inject(pod, config)
    assert injected["spec"].get("initContainers") == pod["spec"].get("initContainers")
    assert injected["spec"].get("volumes") == pod["spec"].get("volumes")
    env = {e["name"]: e["value"] for e in injected["spec"]["containers"][0]["env"]}
    host = f"{config.standalone_name}.{injector_pods.NAMESPACE}.svc"
    assert env == {keys.APP_PORT_ENV: "1", keys.APP_HOST_ENV: host}, "the user's own value stands"
    assert injected["metadata"]["annotations"][keys.INJECTED_ANNOTATION] == template.injected_value(config)
    assert injected["metadata"]["labels"][keys.INJECTED_LABEL] == "true"


def test_the_mode_is_in_the_wiring_and_the_operators_own_settings_are_not() -> None:
    sidecar = injector_pods.config(injector_pods.full_spec())
    assert _config().wiring_hash() != sidecar.wiring_hash()
    assert _config(replicas=5).wiring_hash() == _config(replicas=2).wiring_hash()
    spec = injector_pods.full_spec()
    assert (
        injector_pods.config({**spec, "rolloutOnChange": True, "repairMissingSidecars": True}).wiring_hash()
        == sidecar.wiring_hash()
    )
    assert injector_pods.config({**spec, "mode": "sidecar"}).mode == model.SIDECAR_MODE
