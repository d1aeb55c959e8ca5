"""Settings come from Stigg's variables (and ours), validated with errors naming the variable."""

from __future__ import annotations

import logging
import pathlib

import pytest

from stigg_sidecar import settings


def test_stigg_defaults_when_only_the_key_is_set() -> None:
    s = settings.Settings.from_env({"SERVER_API_KEY": "sk-secret"})
    assert (s.api_url, s.edge_api_url, s.ws_url) == (
        "https://api.stigg.io",
        "https://edge.api.stigg.io",
        "wss://api.stigg.io",
    )
    assert (s.edge_enabled, s.ws_enabled, s.offline, s.redis) == (True, True, False, None)
    assert (s.grpc_port, s.legacy_tls_port, s.log_level) == (80, 8443, logging.INFO)


def test_stigg_variables_are_honoured() -> None:
    s = settings.Settings.from_env(
        {
            "SERVER_API_KEY": "sk-secret",
            "API_URL": "http://127.0.0.1:9000/",
            "EDGE_ENABLED": "false",
            "EDGE_API_URL": "http://127.0.0.1:9001",
            "WS_ENABLED": "0",
            "REDIS_ENVIRONMENT_PREFIX": "prod",
            "REDIS_PORT": "6380",
            "REDIS_PASSWORD": "redis-secret",
            "REDIS_KEYS_TTL_IN_SECS": "-1",
            "ENTITLEMENTS_FALLBACK": '{"feature-01":{"hasAccess":true,"usageLimit":1000}}',
            "CACHE_MAX_SIZE_BYTES": "1048576",
            "GRPC_PORT": "50051",
            "LOG_LEVEL": "WARN",
            "SIDECAR_DEFAULTS_DIR": "/etc/stigg/defaults",
        }
    )
    assert s.api_url == "http://127.0.0.1:9000"
    assert (s.edge_enabled, s.ws_enabled) == (False, False)
    assert s.redis is not None
    assert (s.redis.environment_prefix, s.redis.port, s.redis.keys_ttl_seconds) == ("prod", 6380, -1)
    assert s.fallback["feature-01"].usage_limit == 1000
    assert (s.cache_max_size_bytes, s.grpc_port, s.log_level) == (1048576, 50051, logging.WARNING)
    assert s.defaults_dir == pathlib.Path("/etc/stigg/defaults")


def test_secrets_never_appear_in_repr() -> None:
    s = settings.Settings.from_env(
        {"SERVER_API_KEY": "sk-secret", "REDIS_ENVIRONMENT_PREFIX": "p", "REDIS_PASSWORD": "redis-secret"}
    )
    assert "sk-secret" not in repr(s)
    assert "redis-secret" not in repr(s)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SERVER_API_KEY: required"),
        ({"SERVER_API_KEY": "k", "GRPC_PORT": "http"}, "GRPC_PORT: must be an integer, got 'http'"),
        ({"SERVER_API_KEY": "k", "GRPC_PORT": "70000"}, "GRPC_PORT: must be between 0 and 65535, got 70000"),
        (
            {"SERVER_API_KEY": "k", "EDGE_ENABLED": "maybe"},
            "EDGE_ENABLED: must be true or false, got 'maybe'",
        ),
        ({"SERVER_API_KEY": "k", "EDGE_API_URL": "edge.example"}, "EDGE_API_URL: must be an absolute URL"),
        ({"SERVER_API_KEY": "k", "LOG_LEVEL": "loud"}, "LOG_LEVEL: must be one of error, warn, info, debug"),
        ({"SERVER_API_KEY": "k", "ENTITLEMENTS_FALLBACK": "{"}, "ENTITLEMENTS_FALLBACK: not valid JSON"),
        (
            {"SERVER_API_KEY": "k", "ENTITLEMENTS_FALLBACK": '{"f":{"usageLimit":-5}}'},
            "ENTITLEMENTS_FALLBACK: f.usageLimit: must not be negative",
        ),
        (
            {"SERVER_API_KEY": "k", "REDIS_ENVIRONMENT_PREFIX": "p", "REDIS_KEYS_TTL_IN_SECS": "0"},
            "REDIS_KEYS_TTL_IN_SECS: must be between -1 and 1000000000, not 0",
        ),
        (
            {"SERVER_API_KEY": "k", "SIDECAR_CACHE_TTL_SECONDS": "0"},
            "SIDECAR_CACHE_TTL_SECONDS: must be more than 0",
        ),
        (
            {"SERVER_API_KEY": "k", "SIDECAR_RESYNC_RATE": "-1"},
            "SIDECAR_RESYNC_RATE: must be at least 0 and at most 100000 entries per second",
        ),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(settings.SettingsError) as raised:
        settings.Settings.from_env(env)
    assert str(raised.value).startswith(message)
    assert "sk-" not in str(raised.value)


def test_offline_needs_no_api_key() -> None:
    s = settings.Settings.from_env({"OFFLINE": "true"})
    assert s.offline
    assert s.api_key == ""


def test_a_resync_is_spread_by_default_and_can_be_made_immediate() -> None:
    s = settings.Settings.from_env({"SERVER_API_KEY": "k"})
    assert (s.resync_jitter_seconds, s.resync_rate) == (5.0, 20.0)
    s = settings.Settings.from_env(
        {"SERVER_API_KEY": "k", "SIDECAR_RESYNC_JITTER_SECONDS": "0", "SIDECAR_RESYNC_RATE": "0"}
    )
    assert (s.resync_jitter_seconds, s.resync_rate) == (0.0, 0.0)
