"""The sidecar's environment: secrets only by reference, every set option as a string, unset ones left out."""

from __future__ import annotations

import json

from stigg_operator import keys
from stigg_operator.injection import patch
from tests.unit.operator.injection import pods


def test_full_spec_wires_every_variable() -> None:
    sidecar = pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config(pods.full_spec())))

    assert pods.env_of(sidecar) == {
        "SERVER_API_KEY": {
            "name": "SERVER_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "stigg-api-key", "key": "server-key"}},
        },
        "API_URL": {"name": "API_URL", "value": "https://api.example.test"},
        "EDGE_ENABLED": {"name": "EDGE_ENABLED", "value": "false"},
        "EDGE_API_URL": {"name": "EDGE_API_URL", "value": "https://edge.example.test"},
        "WS_ENABLED": {"name": "WS_ENABLED", "value": "true"},
        "WS_URL": {"name": "WS_URL", "value": "wss://ws.example.test"},
        "CACHE_MAX_SIZE_BYTES": {"name": "CACHE_MAX_SIZE_BYTES", "value": "33554432"},
        "SIDECAR_CACHE_TTL_SECONDS": {"name": "SIDECAR_CACHE_TTL_SECONDS", "value": "120"},
        "REDIS_ENVIRONMENT_PREFIX": {"name": "REDIS_ENVIRONMENT_PREFIX", "value": "shop-prod"},
        "REDIS_HOST": {"name": "REDIS_HOST", "value": "redis.shop.svc"},
        "REDIS_PORT": {"name": "REDIS_PORT", "value": "6380"},
        "REDIS_DB": {"name": "REDIS_DB", "value": "2"},
        "REDIS_TLS": {"name": "REDIS_TLS", "value": "true"},
        "REDIS_KEYS_TTL_IN_SECS": {"name": "REDIS_KEYS_TTL_IN_SECS", "value": "3600"},
        "REDIS_PASSWORD": {
            "name": "REDIS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "redis-password"}},
        },
        "GRPC_PORT": {"name": "GRPC_PORT", "value": "50052"},
        "SIDECAR_HTTP_PORT": {"name": "SIDECAR_HTTP_PORT", "value": "8081"},
        "SIDECAR_BIND_ADDRESS": {"name": "SIDECAR_BIND_ADDRESS", "value": "0.0.0.0"},  # noqa: S104
        "LOG_LEVEL": {"name": "LOG_LEVEL", "value": "debug"},
        "SIDECAR_DEFAULTS_DIR": {"name": "SIDECAR_DEFAULTS_DIR", "value": keys.DEFAULTS_MOUNT_PATH},
        "SIDECAR_STATE_DIR": {"name": "SIDECAR_STATE_DIR", "value": keys.STATE_MOUNT_PATH},
        "ENTITLEMENTS_FALLBACK": {
            "name": "ENTITLEMENTS_FALLBACK",
            "value": '{"feature-api-calls":{"hasAccess":true,"usageLimit":100}}',
        },
    }


def test_minimal_spec_leaves_unset_options_to_the_sidecar_defaults() -> None:
    sidecar = pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config()))
    env = pods.env_of(sidecar)

    assert env["SERVER_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "stigg-api-key", "key": "SERVER_API_KEY"}
    }, "the CRD's default key"
    assert set(env) == {
        "SERVER_API_KEY",
        "GRPC_PORT",
        "SIDECAR_HTTP_PORT",
        "SIDECAR_BIND_ADDRESS",
        "LOG_LEVEL",
        "SIDECAR_DEFAULTS_DIR",
        "SIDECAR_STATE_DIR",
    }
    assert env["GRPC_PORT"]["value"] == "50051"
    assert env["LOG_LEVEL"]["value"] == "info"


def test_every_value_is_a_string_and_no_secret_is_literal() -> None:
    ops = patch.build(pods.rich_pod(), pods.config(pods.full_spec()))
    sidecar = pods.sidecar_of(pods.inject(pods.rich_pod(), pods.config(pods.full_spec())))

    for entry in sidecar["env"]:
        assert ("value" in entry) != ("valueFrom" in entry), entry
        if "value" in entry:
            assert isinstance(entry["value"], str), entry
    for secret_var in ("SERVER_API_KEY", "REDIS_PASSWORD"):
        assert "value" not in pods.env_of(sidecar)[secret_var]
    assert pods.API_KEY_VALUE not in json.dumps(ops)


def test_offline_without_a_key_sets_offline_and_no_key() -> None:
    env = pods.env_of(pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config({"offline": True}))))

    assert env["OFFLINE"] == {"name": "OFFLINE", "value": "true"}
    assert "SERVER_API_KEY" not in env


def test_offline_with_a_key_references_it_optionally() -> None:
    env = pods.env_of(
        pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config({**pods.minimal_spec(), "offline": True})))
    )

    assert env["OFFLINE"]["value"] == "true"
    assert env["SERVER_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "stigg-api-key",
        "key": "SERVER_API_KEY",
        "optional": True,
    }


def test_online_key_reference_is_not_optional_and_offline_is_not_set() -> None:
    env = pods.env_of(pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config())))

    assert "optional" not in env["SERVER_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert "OFFLINE" not in env


def test_redis_without_password_or_ttl_omits_them() -> None:
    spec = {**pods.minimal_spec(), "cache": {"redis": {"host": "redis", "prefix": "dev"}}}
    env = pods.env_of(pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config(spec))))

    assert {name: e["value"] for name, e in env.items() if name.startswith("REDIS_")} == {
        "REDIS_ENVIRONMENT_PREFIX": "dev",
        "REDIS_HOST": "redis",
        "REDIS_PORT": "6379",
        "REDIS_DB": "0",
        "REDIS_TLS": "false",
    }


def test_false_booleans_are_written_not_dropped() -> None:
    spec = {**pods.minimal_spec(), "upstream": {"edgeEnabled": False, "realtime": False}}
    env = pods.env_of(pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config(spec))))

    assert env["EDGE_ENABLED"]["value"] == "false"
    assert env["WS_ENABLED"]["value"] == "false"
