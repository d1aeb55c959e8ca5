"""The sidecar's settings: one immutable object, read from the environment once at start.

Stigg's sidecar variables are accepted under their own names and defaults, so an existing
Stigg configuration works unchanged; what they lack is ours, prefixed ``SIDECAR_``. Each
field below declares its variable, default and meaning once (``stigg_envspec``); the table is
generated from them (``make settings-docs``; a test checks it is current). Every value is
validated up front, and a bad one stops the start with a ``SettingsError`` naming the variable
and the problem. The API key and the Redis password are kept out of ``repr`` and never appear
in an error.

| variable | default | meaning |
| --- | --- | --- |
| SERVER_API_KEY | (required unless OFFLINE) | Stigg server API key |
| API_URL | https://api.stigg.io | GraphQL API (writes, and reads when the Edge API is off) |
| EDGE_ENABLED | true | read entitlements from the Edge API |
| EDGE_API_URL | https://edge.api.stigg.io | Edge API base URL |
| WS_ENABLED | true | follow the real-time event stream |
| WS_URL | wss://api.stigg.io | event stream base URL (``/graphql`` is appended) |
| REDIS_ENVIRONMENT_PREFIX | (unset: no Redis) | enables the shared Redis cache, namespacing its keys |
| REDIS_HOST | localhost | Redis server host |
| REDIS_PORT | 6379 | Redis server port |
| REDIS_DB | 0 | Redis database number |
| REDIS_USERNAME | (unset) | Redis user name |
| REDIS_PASSWORD | (unset) | Redis password |
| REDIS_TLS | false | TLS to Redis |
| REDIS_KEYS_TTL_IN_SECS | 604800 | Redis key expiry (-1: never) |
| ENTITLEMENTS_FALLBACK | (unset) | static defaults, JSON keyed by feature id |
| CACHE_MAX_SIZE_BYTES | 67108864 | in-process cache bound, in bytes of memory held (keys included) |
| GRPC_PORT | 80 | plaintext gRPC port |
| PORT | 8443 | Stigg's legacy TLS port: accepted, not served (plaintext only) |
| LOG_LEVEL | info | error, warn, info or debug |
| OFFLINE | false | serve defaults only; never call the upstream |
| SIDECAR_BIND_ADDRESS | 0.0.0.0 | address the gRPC and HTTP servers listen on |
| SIDECAR_HTTP_PORT | 8080 | HTTP port for /livez, /readyz and /metrics |
| SIDECAR_GRPC_MAX_CONNECTION_IDLE_SECONDS | 300 | an idle gRPC connection is closed after |
| SIDECAR_GRPC_MAX_CONNECTION_AGE_SECONDS | 1800 | any gRPC connection is closed after (+30 s grace) |
| SIDECAR_GRPC_MAX_CONNECTIONS | 1000 | gRPC connections held at once (more are closed at once) |
| SIDECAR_GRPC_MAX_CONCURRENT_STREAMS | 1000 | calls in flight on one gRPC connection (more are refused) |
| SIDECAR_HTTP_MAX_CONNECTIONS | 64 | HTTP connections held at once (more are closed at once) |
| SIDECAR_HTTP_REQUEST_TIMEOUT_SECONDS | 10 | an HTTP request head (or unread body) must arrive within |
| SIDECAR_MIRROR_ENABLED | true | serve the mirror protocol (in-process replicas for mirrored clients) |
| SIDECAR_MIRROR_BUFFER | 10000 | messages buffered per mirror stream (a client slower than that is dropped) |
| SIDECAR_MIRROR_HEARTBEAT_SECONDS | 1 | a mirror stream hears from the sidecar at least this often |
| SIDECAR_DEFAULTS_DIR | (unset) | directory of defaults files (a mounted ConfigMap) |
| SIDECAR_DEFAULTS_POLL_SECONDS | 2 | how often the defaults directory is checked |
| SIDECAR_CACHE_TTL_SECONDS | 300 | freshness of a cached customer |
| SIDECAR_MAX_STALE_SECONDS | 3600 | an entry expired less than this answers at once while it is refreshed |
| SIDECAR_NEGATIVE_CACHE_TTL_SECONDS | 10 | freshness of a cached "customer not found" |
| SIDECAR_UPSTREAM_TIMEOUT_SECONDS | 10 | timeout of one upstream request |
| SIDECAR_UPSTREAM_RETRIES | 2 | retries after a failed upstream request (with jittered backoff) |
| SIDECAR_UPSTREAM_CONCURRENCY | 16 | entitlement fetches running at once |
| SIDECAR_UPSTREAM_QUEUE | 1000 | fetches waiting for one of those at most (then: the fail-safe answer) |
| SIDECAR_BREAKER_FAILURES | 5 | consecutive failures that open the circuit breaker |
| SIDECAR_BREAKER_RESET_SECONDS | 10 | how long the breaker stays open before a trial request |
| SIDECAR_SHUTDOWN_DELAY_SECONDS | 1 | after SIGTERM: unready, but still taking calls this long |
| SIDECAR_SHUTDOWN_GRACE_SECONDS | 10 | then: how long in-flight calls may take |
| SIDECAR_STATE_DIR | /var/lib/stigg | the state volume: the usage outbox lives here |
| SIDECAR_OUTBOX_MAX_ITEMS | 100000 | reports and events the outbox holds at most (then RESOURCE_EXHAUSTED) |
| SIDECAR_WS_KEEPALIVE_SECONDS | 10 | ping the stream after this long without a message; drop it after twice |
| SIDECAR_WS_RECONNECT_MAX_SECONDS | 30 | the cap of the stream's reconnect backoff |
| SIDECAR_RESYNC_JITTER_SECONDS | 5 | a resync starts after a random delay of up to this (0: at once) |
| SIDECAR_RESYNC_RATE | 20 | entries a resync refreshes per second at most (0: no limit) |
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from collections.abc import Mapping

import stigg_envspec as env
from stigg_sidecar import defaults

SettingsError = env.SettingsError
LOG_LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}
_HTTP = {"http", "https"}
_PORT = env.integer(0, 65535)
_SECONDS = env.number("seconds", 86400)


def _fallback(raw: str) -> Mapping[str, defaults.FeatureDefault]:
    return defaults.parse_env(raw)  # DefaultsError is a ValueError: its message is kept


@dataclasses.dataclass(frozen=True)
class RedisSettings:
    """The shared cache's connection, present when ``REDIS_ENVIRONMENT_PREFIX`` is set."""

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
    api_key: str = env.var(
        "SERVER_API_KEY", "", "Stigg server API key", shown="(required unless OFFLINE)", secret=True
    )
    api_url: str = env.var(
        "API_URL",
        "https://api.stigg.io",
        "GraphQL API (writes, and reads when the Edge API is off)",
        parse=env.url(_HTTP),
    )
    edge_enabled: bool = env.var(
        "EDGE_ENABLED", True, "read entitlements from the Edge API", parse=env.boolean
    )
    edge_api_url: str = env.var(
        "EDGE_API_URL", "https://edge.api.stigg.io", "Edge API base URL", parse=env.url(_HTTP)
    )
    ws_enabled: bool = env.var("WS_ENABLED", True, "follow the real-time event stream", parse=env.boolean)
    ws_url: str = env.var(
        "WS_URL",
        "wss://api.stigg.io",
        "event stream base URL (``/graphql`` is appended)",
        parse=env.url({"ws", "wss", *_HTTP}),
    )
    redis_environment_prefix: str = env.var(
        "REDIS_ENVIRONMENT_PREFIX",
        "",
        "enables the shared Redis cache, namespacing its keys",
        shown="(unset: no Redis)",
    )
    redis_host: str = env.var("REDIS_HOST", "localhost", "Redis server host")
    redis_port: int = env.var("REDIS_PORT", 6379, "Redis server port", parse=env.integer(1, 65535))
    redis_db: int = env.var("REDIS_DB", 0, "Redis database number", parse=env.integer(0, 10_000))
    redis_username: str | None = env.var("REDIS_USERNAME", None, "Redis user name")
    redis_password: str | None = env.var("REDIS_PASSWORD", None, "Redis password", secret=True)
    redis_tls: bool = env.var("REDIS_TLS", False, "TLS to Redis", parse=env.boolean)
    redis_keys_ttl_seconds: int = env.var(
        "REDIS_KEYS_TTL_IN_SECS",
        604800,
        "Redis key expiry (-1: never)",
        parse=env.integer(-1, 10**9, zero=False),
    )
    fallback: Mapping[str, defaults.FeatureDefault] = env.var(
        "ENTITLEMENTS_FALLBACK",
        None,
        "static defaults, JSON keyed by feature id",
        parse=_fallback,
        factory=dict,
    )
    cache_max_size_bytes: int = env.var(
        "CACHE_MAX_SIZE_BYTES",
        64 * 1024 * 1024,
        "in-process cache bound, in bytes of memory held (keys included)",
        parse=env.integer(1024, 2**40),
    )
    grpc_port: int = env.var("GRPC_PORT", 80, "plaintext gRPC port", parse=_PORT)
    legacy_tls_port: int = env.var(
        "PORT", 8443, "Stigg's legacy TLS port: accepted, not served (plaintext only)", parse=_PORT
    )
    log_level: int = env.var(
        "LOG_LEVEL",
        logging.INFO,
        "error, warn, info or debug",
        parse=env.choice(LOG_LEVELS, fold_case=True),
        shown="info",
    )
    offline: bool = env.var(
        "OFFLINE", False, "serve defaults only; never call the upstream", parse=env.boolean
    )
    bind_address: str = env.var(
        "SIDECAR_BIND_ADDRESS",
        "0.0.0.0",  # noqa: S104 -- a sidecar serves its Pod (or its Service)
        "address the gRPC and HTTP servers listen on",
    )
    http_port: int = env.var(
        "SIDECAR_HTTP_PORT", 8080, "HTTP port for /livez, /readyz and /metrics", parse=_PORT
    )
    grpc_max_connection_idle_seconds: float = env.var(
        "SIDECAR_GRPC_MAX_CONNECTION_IDLE_SECONDS",
        300.0,
        "an idle gRPC connection is closed after",
        parse=_SECONDS,
    )
    grpc_max_connection_age_seconds: float = env.var(
        "SIDECAR_GRPC_MAX_CONNECTION_AGE_SECONDS",
        1800.0,
        "any gRPC connection is closed after (+30 s grace)",
        parse=_SECONDS,
    )
    grpc_max_connections: int = env.var(
        "SIDECAR_GRPC_MAX_CONNECTIONS",
        1000,
        "gRPC connections held at once (more are closed at once)",
        parse=env.integer(1, 1_000_000),
    )
    grpc_max_concurrent_streams: int = env.var(
        "SIDECAR_GRPC_MAX_CONCURRENT_STREAMS",
        1000,
        "calls in flight on one gRPC connection (more are refused)",
        parse=env.integer(1, 1_000_000),
    )
    http_max_connections: int = env.var(
        "SIDECAR_HTTP_MAX_CONNECTIONS",
        64,
        "HTTP connections held at once (more are closed at once)",
        parse=env.integer(1, 100_000),
    )
    http_request_timeout_seconds: float = env.var(
        "SIDECAR_HTTP_REQUEST_TIMEOUT_SECONDS",
        10.0,
        "an HTTP request head (or unread body) must arrive within",
        parse=env.number("seconds", 3600),
    )
    mirror_enabled: bool = env.var(
        "SIDECAR_MIRROR_ENABLED",
        True,
        "serve the mirror protocol (in-process replicas for mirrored clients)",
        parse=env.boolean,
    )
    mirror_buffer: int = env.var(
        "SIDECAR_MIRROR_BUFFER",
        10_000,
        "messages buffered per mirror stream (a client slower than that is dropped)",
        parse=env.integer(16, 10**6),
    )
    mirror_heartbeat_seconds: float = env.var(
        "SIDECAR_MIRROR_HEARTBEAT_SECONDS",
        1.0,
        "a mirror stream hears from the sidecar at least this often",
        parse=env.number("seconds", 60),
    )
    defaults_dir: pathlib.Path | None = env.var(
        "SIDECAR_DEFAULTS_DIR", None, "directory of defaults files (a mounted ConfigMap)", parse=env.path
    )
    defaults_poll_seconds: float = env.var(
        "SIDECAR_DEFAULTS_POLL_SECONDS", 2.0, "how often the defaults directory is checked", parse=_SECONDS
    )
    cache_ttl_seconds: float = env.var(
        "SIDECAR_CACHE_TTL_SECONDS", 300.0, "freshness of a cached customer", parse=_SECONDS
    )
    max_stale_seconds: float = env.var(
        "SIDECAR_MAX_STALE_SECONDS",
        3600.0,
        "an entry expired less than this answers at once while it is refreshed",
        parse=env.number("seconds", 86400, zero=True),
    )
    negative_cache_ttl_seconds: float = env.var(
        "SIDECAR_NEGATIVE_CACHE_TTL_SECONDS",
        10.0,
        'freshness of a cached "customer not found"',
        parse=_SECONDS,
    )
    upstream_timeout_seconds: float = env.var(
        "SIDECAR_UPSTREAM_TIMEOUT_SECONDS", 10.0, "timeout of one upstream request", parse=_SECONDS
    )
    upstream_retries: int = env.var(
        "SIDECAR_UPSTREAM_RETRIES",
        2,
        "retries after a failed upstream request (with jittered backoff)",
        parse=env.integer(0, 10),
    )
    upstream_concurrency: int = env.var(
        "SIDECAR_UPSTREAM_CONCURRENCY", 16, "entitlement fetches running at once", parse=env.integer(1, 1000)
    )
    upstream_queue: int = env.var(
        "SIDECAR_UPSTREAM_QUEUE",
        1000,
        "fetches waiting for one of those at most (then: the fail-safe answer)",
        parse=env.integer(0, 10**6),
    )
    breaker_failures: int = env.var(
        "SIDECAR_BREAKER_FAILURES",
        5,
        "consecutive failures that open the circuit breaker",
        parse=env.integer(1, 1000),
    )
    breaker_reset_seconds: float = env.var(
        "SIDECAR_BREAKER_RESET_SECONDS",
        10.0,
        "how long the breaker stays open before a trial request",
        parse=_SECONDS,
    )
    shutdown_delay_seconds: float = env.var(
        "SIDECAR_SHUTDOWN_DELAY_SECONDS",
        1.0,
        "after SIGTERM: unready, but still taking calls this long",
        parse=env.number("seconds", 3600, zero=True),
    )
    shutdown_grace_seconds: float = env.var(
        "SIDECAR_SHUTDOWN_GRACE_SECONDS", 10.0, "then: how long in-flight calls may take", parse=_SECONDS
    )
    state_dir: pathlib.Path = env.var(
        "SIDECAR_STATE_DIR",
        pathlib.Path("/var/lib/stigg"),
        "the state volume: the usage outbox lives here",
        parse=env.path,
    )
    outbox_max_items: int = env.var(
        "SIDECAR_OUTBOX_MAX_ITEMS",
        100_000,
        "reports and events the outbox holds at most (then RESOURCE_EXHAUSTED)",
        parse=env.integer(1, 10**8),
    )
    ws_keepalive_seconds: float = env.var(
        "SIDECAR_WS_KEEPALIVE_SECONDS",
        10.0,
        "ping the stream after this long without a message; drop it after twice",
        parse=_SECONDS,
    )
    ws_reconnect_max_seconds: float = env.var(
        "SIDECAR_WS_RECONNECT_MAX_SECONDS", 30.0, "the cap of the stream's reconnect backoff", parse=_SECONDS
    )
    # A resync (after every (re)connection of the stream) is spread so that a fleet's replicas,
    # all dropped by the same upstream blip, do not refetch everything at once: each starts
    # within the jitter window (100 replicas: one every 50 ms on average), short beside the TTL
    # that held entries answer under meanwhile, then refreshes at most the rate a second: a
    # cache of 2,000 customers in 100 s, a third of the default TTL (300 s), and the upstream
    # sees at most 20 a second per replica instead of as many as its fetches in flight allow.
    resync_jitter_seconds: float = env.var(
        "SIDECAR_RESYNC_JITTER_SECONDS",
        5.0,
        "a resync starts after a random delay of up to this (0: at once)",
        parse=env.number("seconds", 3600, zero=True),
    )
    resync_rate: float = env.var(
        "SIDECAR_RESYNC_RATE",
        20.0,
        "entries a resync refreshes per second at most (0: no limit)",
        parse=env.number("entries per second", 100_000, zero=True),
    )

    def __post_init__(self) -> None:
        if not self.api_key and not self.offline:
            raise SettingsError("SERVER_API_KEY: required (or set OFFLINE=true to serve defaults only)")

    @property
    def redis(self) -> RedisSettings | None:
        """The shared cache's connection, or None when ``REDIS_ENVIRONMENT_PREFIX`` is unset."""
        if not self.redis_environment_prefix:
            return None
        return RedisSettings(
            environment_prefix=self.redis_environment_prefix,
            host=self.redis_host,
            port=self.redis_port,
            db=self.redis_db,
            username=self.redis_username,
            password=self.redis_password,
            tls=self.redis_tls,
            keys_ttl_seconds=self.redis_keys_ttl_seconds,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate every variable; raise ``SettingsError`` on the first bad one."""
        return env.read(cls, environ)
