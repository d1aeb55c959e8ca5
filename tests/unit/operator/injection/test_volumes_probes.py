"""The defaults ConfigMap is mounted as a live directory, the state on an emptyDir; probes gate the app."""

from __future__ import annotations

from stigg_operator import keys
from tests.unit.operator.injection import pods


def test_bare_pod_gets_both_volumes() -> None:
    patched = pods.inject(pods.bare_pod(), pods.config())

    assert patched["spec"]["volumes"] == [
        {
            "name": keys.DEFAULTS_VOLUME,
            "configMap": {"name": "entitlements-stigg-defaults", "optional": True},
        },
        {"name": keys.STATE_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}},
    ]


def test_existing_volumes_are_kept_first() -> None:
    patched = pods.inject(pods.rich_pod(), pods.config())

    assert [v["name"] for v in patched["spec"]["volumes"]] == [
        "config",
        keys.DEFAULTS_VOLUME,
        keys.STATE_VOLUME,
    ]
    assert patched["spec"]["volumes"][0] == {"name": "config", "configMap": {"name": "checkout-config"}}
    assert patched["spec"]["containers"][0]["volumeMounts"] == [
        {"name": "config", "mountPath": "/etc/checkout"}
    ]


def test_sidecar_mounts_whole_directories_never_subpath() -> None:
    sidecar = pods.sidecar_of(pods.inject(pods.rich_pod(), pods.config()))

    assert sidecar["volumeMounts"] == [
        {"name": keys.DEFAULTS_VOLUME, "mountPath": keys.DEFAULTS_MOUNT_PATH, "readOnly": True},
        {"name": keys.STATE_VOLUME, "mountPath": keys.STATE_MOUNT_PATH},
    ]
    assert all("subPath" not in m and "subPathExpr" not in m for m in sidecar["volumeMounts"])
    assert pods.env_of(sidecar)["SIDECAR_DEFAULTS_DIR"]["value"] == keys.DEFAULTS_MOUNT_PATH


def test_app_containers_do_not_get_the_sidecar_mounts() -> None:
    patched = pods.inject(pods.bare_pod(), pods.config())

    assert "volumeMounts" not in patched["spec"]["containers"][0]


def test_probes_use_the_named_http_port() -> None:
    sidecar = pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config(pods.full_spec())))

    assert sidecar["startupProbe"] == {
        "httpGet": {"port": keys.HTTP_PORT_NAME, "path": "/readyz"},
        "periodSeconds": 1,
        "failureThreshold": 60,
    }
    assert sidecar["readinessProbe"] == {
        "httpGet": {"port": keys.HTTP_PORT_NAME, "path": "/readyz"},
        "periodSeconds": 5,
    }
    assert sidecar["livenessProbe"] == {
        "httpGet": {"port": keys.HTTP_PORT_NAME, "path": "/livez"},
        "periodSeconds": 10,
        "failureThreshold": 3,
    }
    assert keys.HTTP_PORT_NAME in {p["name"] for p in sidecar["ports"]}
