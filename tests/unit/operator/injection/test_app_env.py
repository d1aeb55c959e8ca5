"""App containers learn where the sidecar is, without losing anything their author set."""

from __future__ import annotations

from stigg_operator import keys
from tests.unit.operator.injection import pods


def test_container_without_env_gets_host_and_port() -> None:
    patched = pods.inject(pods.bare_pod(), pods.config())

    assert patched["spec"]["containers"][0]["env"] == [
        {"name": keys.APP_HOST_ENV, "value": "localhost"},
        {"name": keys.APP_PORT_ENV, "value": "50051"},
    ]


def test_port_follows_the_resource_grpc_port() -> None:
    patched = pods.inject(pods.rich_pod(), pods.config(pods.full_spec()))

    assert pods.env_of(patched["spec"]["containers"][2])[keys.APP_PORT_ENV]["value"] == "50052"


def test_user_env_is_preserved_and_never_overwritten() -> None:
    patched = pods.inject(pods.rich_pod(), pods.config(pods.full_spec()))
    checkout, metrics, logs = patched["spec"]["containers"]

    assert checkout["env"] == [
        {"name": "DATABASE_URL", "value": "postgres://db/shop"},
        {"name": keys.APP_PORT_ENV, "value": "6000"},
        {"name": keys.APP_HOST_ENV, "value": "localhost"},
    ]
    assert metrics["env"] == [
        {"name": keys.APP_HOST_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": keys.APP_PORT_ENV, "value": "50052"},
    ]
    assert logs["env"] == [
        {"name": keys.APP_HOST_ENV, "value": "localhost"},
        {"name": keys.APP_PORT_ENV, "value": "50052"},
    ]


def test_the_pods_own_init_containers_are_told_too_but_not_the_sidecar() -> None:
    # They start after the native sidecar is up (it is first), so they may call it.
    pod = pods.rich_pod()
    pod["spec"]["initContainers"][1]["env"] = [{"name": keys.APP_PORT_ENV, "value": "7000"}]
    patched = pods.inject(pod, pods.config())

    sidecar, migrate, warm = patched["spec"]["initContainers"]
    assert sidecar["name"] == keys.SIDECAR_CONTAINER
    assert keys.APP_HOST_ENV not in pods.env_of(sidecar)
    assert migrate["env"] == [
        {"name": keys.APP_HOST_ENV, "value": "localhost"},
        {"name": keys.APP_PORT_ENV, "value": "50051"},
    ]
    assert warm["env"] == [
        {"name": keys.APP_PORT_ENV, "value": "7000"},
        {"name": keys.APP_HOST_ENV, "value": "localhost"},
    ]


def test_in_standalone_mode_init_containers_get_the_service() -> None:
    patched = pods.inject(pods.rich_pod(), pods.config({**pods.full_spec(), "mode": "Standalone"}))

    for init in patched["spec"]["initContainers"]:
        assert pods.env_of(init)[keys.APP_HOST_ENV]["value"].endswith(".svc"), init["name"]


def test_container_defining_both_gets_no_env_op() -> None:
    pod = pods.bare_pod()
    user_env = [{"name": keys.APP_HOST_ENV, "value": "10.0.0.1"}, {"name": keys.APP_PORT_ENV, "value": "1"}]
    pod["spec"]["containers"][0]["env"] = list(user_env)

    patched = pods.inject(pod, pods.config())

    assert patched["spec"]["containers"][0]["env"] == user_env
