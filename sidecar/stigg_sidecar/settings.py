"""The sidecar's settings: one immutable object, read from the environment once at start.

Stigg's sidecar variables are accepted under their own names and defaults, so an existing
Stigg configuration works unchanged; what they lack is ours, prefixed ``SIDECAR_``. Every
value is validated up front, and a bad one stops the start with a ``SettingsError`` naming the
variable and the problem. The API key is kept out of ``repr`` and never appears in an error.

| variable | default | meaning |
| --- | --- | --- |
| SERVER_API_KEY | (required unless OFFLINE) | Stigg server API key |
| API_URL | https://api.stigg.io | GraphQL API (writes, and reads when the Edge API is off) |
| EDGE_ENABLED | true | read entitlements from the Edge API |
| EDGE_API_URL | https://edge.api.stigg.io | Edge API base URL |
| WS_ENABLED | true | follow the real-time event stream |
| WS_URL | wss://api.stigg.io | event stream base URL (``/graphql`` is appended) |
| REDIS_ENVIRONMENT_PREFIX | (unset: no Redis) | enables the shared Redis cache, namespacing its keys |
| REDIS_HOST / REDIS_PORT / REDIS_DB | localhost / 6379 / 0 | Redis server |
| REDIS_USERNAME / REDIS_PASSWORD | (unset) | Redis credentials |
| REDIS_TLS | false | TLS to Redis |
| REDIS_KEYS_TTL_IN_SECS | 604800 | Redis key expiry (-1: never) |
| ENTITLEMENTS_FALLBACK | (unset) | static defaults, JSON keyed by feature id |
| CACHE_MAX_SIZE_BYTES | 67108864 | in-process cache bound, in bytes |
| GRPC_PORT | 80 | plaintext gRPC port |
| PORT | 8443 | Stigg's legacy TLS port: accepted, not served (plaintext only) |
| LOG_LEVEL | info | error, warn, info or debug |
| OFFLINE | false | serve defaults only; never call the upstream |
| SIDECAR_BIND_ADDRESS | 0.0.0.0 | address the gRPC and HTTP servers listen on |
| SIDECAR_HTTP_PORT | 8080 | HTTP port for /livez, /readyz and /metrics |
| SIDECAR_DEFAULTS_DIR | (unset) | directory of defaults files (a mounted ConfigMap) |
| SIDECAR_DEFAULTS_POLL_SECONDS | 2 | how often the defaults directory is checked |
| SIDECAR_CACHE_TTL_SECONDS | 300 | freshness of a cached customer |
| SIDECAR_NEGATIVE_CACHE_TTL_SECONDS | 10 | freshness of a cached "customer not found" |
| SIDECAR_UPSTREAM_TIMEOUT_SECONDS | 10 | timeout of one upstream request |
| SIDECAR_UPSTREAM_RETRIES | 2 | retries after a failed upstream request (with jittered backoff) |
| SIDECAR_BREAKER_FAILURES | 5 | consecutive failures that open the circuit breaker |
| SIDECAR_BREAKER_RESET_SECONDS | 10 | how long the breaker stays open before a trial request |
| SIDECAR_SHUTDOWN_GRACE_SECONDS | 10 | how long SIGTERM waits for in-flight calls |
| SIDECAR_STATE_DIR | /var/lib/stigg | the state volume: the usage outbox lives here |
| SIDECAR_OUTBOX_MAX_ITEMS | 100000 | reports and events the outbox holds at most (then RESOURCE_EXHAUSTED) |
| SIDECAR_WS_KEEPALIVE_SECONDS | 10 | ping the stream after this long without a message; drop it after twice |
| SIDECAR_WS_RECONNECT_MAX_SECONDS | 30 | the cap of the stream's reconnect backoff |
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import urllib.parse
from collections.abc import Mapping

from stigg_sidecar import defaults

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
LOG_LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}


class SettingsError(ValueError):
    """A variable is missing or invalid; the message starts with the variable's name."""


@dataclasses.dataclass(frozen=True)
class RedisSettings:
    environment_prefix: str
    host: str = "localhost"
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    tls: bool = False
    keys_ttl_seconds: int = 604800


@dataclasses.dataclass(frozen=True)
class Settings:
    api_key: str = dataclasses.field(repr=False)
    api_url: str = "https://api.stigg.io"
    edge_enabled: bool = True
    edge_api_url: str = "https://edge.api.stigg.io"
    ws_enabled: bool = True
    ws_url: str = "wss://api.stigg.io"
    redis: RedisSettings | None = None
    fallback: Mapping[str, defaults.FeatureDefault] = dataclasses.field(default_factory=dict)
    cache_max_size_bytes: int = 64 * 1024 * 1024
    grpc_port: int = 80
    legacy_tls_port: int = 8443
    log_level: int = logging.INFO
    offline: bool = False
    bind_address: str = "0.0.0.0"  # noqa: S104 -- a sidecar serves its Pod (or its Service)
    http_port: int = 8080
    defaults_dir: pathlib.Path | None = None
    defaults_poll_seconds: float = 2.0
    cache_ttl_seconds: float = 300.0
    negative_cache_ttl_seconds: float = 10.0
    upstream_timeout_seconds: float = 10.0
    upstream_retries: int = 2
    breaker_failures: int = 5
    breaker_reset_seconds: float = 10.0
    shutdown_grace_seconds: float = 10.0
    state_dir: pathlib.Path = pathlib.Path("/var/lib/stigg")
    outbox_max_items: int = 100_000
    ws_keepalive_seconds: float = 10.0
    ws_reconnect_max_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate every variable; raise ``SettingsError`` on the first bad one."""
        env = _Reader(environ)
        offline = env.boolean("OFFLINE", default=False)
        api_key = environ.get("SERVER_API_KEY", "").strip()
        if not api_key and not offline:
            raise SettingsError("SERVER_API_KEY: required (or set OFFLINE=true to serve defaults only)")
        prefix = environ.get("REDIS_ENVIRONMENT_PREFIX", "").strip()
        redis = (
            RedisSettings(
                environment_prefix=prefix,
                host=environ.get("REDIS_HOST", "localhost").strip() or "localhost",
                port=env.integer("REDIS_PORT", 6379, low=1, high=65535),
                db=env.integer("REDIS_DB", 0, low=0, high=10_000),
                username=environ.get("REDIS_USERNAME") or None,
                password=environ.get("REDIS_PASSWORD") or None,
                tls=env.boolean("REDIS_TLS", default=False),
                keys_ttl_seconds=env.integer(
                    "REDIS_KEYS_TTL_IN_SECS", 604800, low=-1, high=10**9, zero=False
                ),
            )
            if prefix
            else None
        )
        try:
            fallback = defaults.parse_env(environ.get("ENTITLEMENTS_FALLBACK"))
        except defaults.DefaultsError as error:
            raise SettingsError(f"ENTITLEMENTS_FALLBACK: {error}") from None
        level_name = environ.get("LOG_LEVEL", "info").strip().lower() or "info"
        if level_name not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL: must be one of {', '.join(LOG_LEVELS)}, got {level_name!r}")
        defaults_dir = environ.get("SIDECAR_DEFAULTS_DIR", "").strip()
        return cls(
            api_key=api_key,
            api_url=env.url("API_URL", "https://api.stigg.io", {"http", "https"}),
            edge_enabled=env.boolean("EDGE_ENABLED", default=True),
            edge_api_url=env.url("EDGE_API_URL", "https://edge.api.stigg.io", {"http", "https"}),
            ws_enabled=env.boolean("WS_ENABLED", default=True),
            ws_url=env.url("WS_URL", "wss://api.stigg.io", {"ws", "wss", "http", "https"}),
            redis=redis,
            fallback=fallback,
            cache_max_size_bytes=env.integer("CACHE_MAX_SIZE_BYTES", 64 * 1024 * 1024, low=1024, high=2**40),
            grpc_port=env.integer("GRPC_PORT", 80, low=0, high=65535),
            legacy_tls_port=env.integer("PORT", 8443, low=0, high=65535),
            log_level=LOG_LEVELS[level_name],
            offline=offline,
            bind_address=environ.get("SIDECAR_BIND_ADDRESS", "0.0.0.0").strip() or "0.0.0.0",  # noqa: S104
            http_port=env.integer("SIDECAR_HTTP_PORT", 8080, low=0, high=65535),
            defaults_dir=pathlib.Path(defaults_dir) if defaults_dir else None,
            defaults_poll_seconds=env.seconds("SIDECAR_DEFAULTS_POLL_SECONDS", 2.0),
            cache_ttl_seconds=env.seconds("SIDECAR_CACHE_TTL_SECONDS", 300.0),
            negative_cache_ttl_seconds=env.seconds("SIDECAR_NEGATIVE_CACHE_TTL_SECONDS", 10.0),
            upstream_timeout_seconds=env.seconds("SIDECAR_UPSTREAM_TIMEOUT_SECONDS", 10.0),
            upstream_retries=env.integer("SIDECAR_UPSTREAM_RETRIES", 2, low=0, high=10),
            breaker_failures=env.integer("SIDECAR_BREAKER_FAILURES", 5, low=1, high=1000),
            breaker_reset_seconds=env.seconds("SIDECAR_BREAKER_RESET_SECONDS", 10.0),
            shutdown_grace_seconds=env.seconds("SIDECAR_SHUTDOWN_GRACE_SECONDS", 10.0),
            state_dir=pathlib.Path(environ.get("SIDECAR_STATE_DIR", "").strip() or "/var/lib/stigg"),
            outbox_max_items=env.integer("SIDECAR_OUTBOX_MAX_ITEMS", 100_000, low=1, high=10**8),
            ws_keepalive_seconds=env.seconds("SIDECAR_WS_KEEPALIVE_SECONDS", 10.0),
            ws_reconnect_max_seconds=env.seconds("SIDECAR_WS_RECONNECT_MAX_SECONDS", 30.0),
        )


class _Reader:
    """Typed accessors over the environment that raise ``SettingsError`` naming the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def _raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        return None if value is None or not value.strip() else value.strip()

    def boolean(self, name: str, *, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise SettingsError(f"{name}: must be true or false, got {raw!r}")

    def integer(self, name: str, default: int, *, low: int, high: int, zero: bool = True) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: must be an integer, got {raw!r}") from None
        if not low <= value <= high or (value == 0 and not zero):
            allowed = f"between {low} and {high}" + ("" if zero else ", not 0")
            raise SettingsError(f"{name}: must be {allowed}, got {value}")
        return value

    def seconds(self, name: str, default: float) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}: must be a number of seconds, got {raw!r}") from None
        if not 0 < value <= 86400:
            raise SettingsError(f"{name}: must be more than 0 and at most 86400 seconds, got {raw}")
        return value

    def url(self, name: str, default: str, schemes: set[str]) -> str:
        raw = self._raw(name) or default
        parsed = urllib.parse.urlsplit(raw)
        if parsed.scheme not in schemes or not parsed.netloc:
            allowed = ", ".join(f"{s}://" for s in sorted(schemes))
            raise SettingsError(f"{name}: must be an absolute URL starting with {allowed}, got {raw!r}")
        return raw.rstrip("/")
