"""Prometheus metrics of one sidecar, in a registry of its own (so tests can run several).

Names follow Stigg's sidecar where it has them (``sidecar_cache_hits_total``,
``sidecar_network_request_errors_total``, ...); ours add checks by method and outcome and
their latency in the sidecar (``sidecar_check_duration_seconds``), upstream latency,
fallbacks by source, and the cache's size. Label children for the hot path are bound once
here, so a check pays a plain counter increment and a histogram observation.
"""

from __future__ import annotations

from stigg_sidecar import promtext as prom

CHECK_METHODS = (
    "GetEntitlements",
    "GetEntitlement",
    "GetBooleanEntitlement",
    "GetNumericEntitlement",
    "GetMeteredEntitlement",
    "GetEnumEntitlement",
    "GetEntitlementV2",
    "GetEntitlementsStateV2",
)
OUTCOMES = ("granted", "denied", "fallback", "invalid", "error")
FALLBACK_SOURCES = ("defaults", "request", "none")
# A cache hit takes tens of microseconds; a miss the upstream's round trip (about 0.1 s), up to
# the caller's deadline.
CHECK_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)
UPSTREAM_OPERATIONS = ("fetch", "report_usage", "report_events")
STREAM_EVENT_KINDS = ("entitlements", "usage", "credit_usage", "package_published", "malformed")
STREAM_PROTOCOLS = ("v2", "legacy")


class Metrics:
    def __init__(self) -> None:
        self.registry = prom.CollectorRegistry(auto_describe=True)
        r = self.registry
        self.checks = prom.Counter(
            "sidecar_checks",
            "Entitlement checks answered, by gRPC method and outcome",
            ["method", "outcome"],
            registry=r,
        )
        self.check = {(m, o): self.checks.labels(m, o) for m in CHECK_METHODS for o in OUTCOMES}
        check_durations = prom.Histogram(
            "sidecar_check_duration_seconds",
            "Time a check took in the sidecar, from its handler to its answer, by gRPC method",
            ["method"],
            buckets=CHECK_BUCKETS,
            registry=r,
        )
        self.check_duration = {m: check_durations.labels(m) for m in CHECK_METHODS}
        self.cache_hits = prom.Counter(
            "sidecar_cache_hits", "Checks answered from a fresh cache entry", registry=r
        )
        self.cache_misses = prom.Counter(
            "sidecar_cache_misses", "Checks that found no fresh cache entry", registry=r
        )
        self.stale_served = prom.Counter(
            "sidecar_stale_served",
            "Answers from an expired cache entry (while it is refreshed, or because the upstream failed)",
            registry=r,
        )
        self.revalidations = prom.Counter(
            "sidecar_cache_revalidations",
            "Background refreshes of expired entries that answered at once (stale-while-revalidate)",
            registry=r,
        )
        self.http_refused_connections = prom.Counter(
            "sidecar_http_refused_connections",
            "HTTP connections closed as soon as accepted, over SIDECAR_HTTP_MAX_CONNECTIONS",
            registry=r,
        )
        self.abandoned_loads = prom.Counter(
            "sidecar_abandoned_loads",
            "Loads never started because every check waiting for them had gone",
            registry=r,
        )
        self.upstream_queue_full = prom.Counter(
            "sidecar_upstream_queue_full",
            "Loads refused at once because the upstream queue was full",
            registry=r,
        )
        self.load_deadlines = prom.Counter(
            "sidecar_load_deadlines",
            "Checks that stopped waiting for a load at their deadline and answered the fail-safe way",
            registry=r,
        )
        fallbacks = prom.Counter(
            "sidecar_fallbacks_served", "Answers with is_fallback=true, by source", ["source"], registry=r
        )
        self.fallback = {source: fallbacks.labels(source) for source in FALLBACK_SOURCES}
        self.upstream_latency = prom.Histogram(
            "sidecar_upstream_request_duration_seconds",
            "Upstream request latency, retries included",
            ["operation"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
            registry=r,
        )
        network_errors = prom.Counter(
            "sidecar_network_request_errors", "Upstream requests that failed", ["operation"], registry=r
        )
        self.network_error = {op: network_errors.labels(op) for op in UPSTREAM_OPERATIONS}
        self.invalid_api_key = prom.Counter(
            "sidecar_invalid_api_key_errors", "Upstream answers refusing the API key", registry=r
        )
        self.initialization_errors = prom.Counter(
            "sidecar_initialization_errors", "Errors while starting the sidecar", registry=r
        )
        self.redis_errors = prom.Counter("sidecar_redis_client_errors", "Redis client errors", registry=r)
        self.cache_bytes = prom.Gauge(
            "sidecar_cache_size_bytes", "Bytes held by the in-process cache", registry=r
        )
        self.cache_entries = prom.Gauge(
            "sidecar_cache_entries", "Entries in the in-process cache", registry=r
        )
        self.defaults_loaded = prom.Gauge(
            "sidecar_defaults_features", "Features with a static default value", registry=r
        )
        self.outbox_depth = prom.Gauge(
            "sidecar_outbox_depth", "Reports and events waiting for the upstream", registry=r
        )
        self.outbox_oldest_age = prom.Gauge(
            "sidecar_outbox_oldest_age_seconds", "Age of the oldest item waiting for the upstream", registry=r
        )
        self.outbox_sent = prom.Counter(
            "sidecar_outbox_sent", "Outbox items the upstream accepted", registry=r
        )
        self.outbox_rejected = prom.Counter(
            "sidecar_outbox_rejected",
            "Outbox items the upstream refused for good (moved to the dead letters)",
            registry=r,
        )
        self.outbox_dead_letters = prom.Gauge(
            "sidecar_outbox_dead_letters",
            "Items the upstream refused for good, kept until removed (stigg-sidecar dead-letters)",
            registry=r,
        )
        self.stream_connected = prom.Gauge(
            "sidecar_stream_connected", "1 while the real-time event stream is followed", registry=r
        )
        self.stream_connects = prom.Counter(
            "sidecar_stream_connects", "Event stream connections that reached their subscriptions", registry=r
        )
        self.stream_disconnects = prom.Counter(
            "sidecar_stream_disconnects", "Event stream connections lost or refused", registry=r
        )
        stream_events = prom.Counter(
            "sidecar_stream_events", "Event stream events received, by kind", ["kind"], registry=r
        )
        self.stream_events = {kind: stream_events.labels(kind) for kind in STREAM_EVENT_KINDS}
        stream_protocol = prom.Gauge(
            "sidecar_stream_protocol",
            "1 for the real-time protocol followed: v2 (Stigg's current subscriptions) or legacy",
            ["protocol"],
            registry=r,
        )
        self.stream_protocol = {name: stream_protocol.labels(name) for name in STREAM_PROTOCOLS}
        self.skipped_items = prom.Counter(
            "sidecar_upstream_skipped_items",
            "Entitlements or events of a kind the sidecar does not know, skipped (not failed)",
            registry=r,
        )
        self.resyncs = prom.Counter(
            "sidecar_stream_resyncs", "Refreshes of the held entries after (re)connecting", registry=r
        )
        self.resynced_entries = prom.Counter(
            "sidecar_stream_resynced_entries", "Entries refreshed by resyncs", registry=r
        )
        self.mirror_streams = prom.Gauge(
            "sidecar_mirror_streams", "Mirror streams (mirrored client processes) following", registry=r
        )
        self.mirror_subscriptions = prom.Gauge(
            "sidecar_mirror_subscriptions", "Customers followed, summed over the mirror streams", registry=r
        )
        self.mirror_changes = prom.Counter(
            "sidecar_mirror_changes", "Changes of followed customers sent to mirror streams", registry=r
        )
        self.mirror_dropped_streams = prom.Counter(
            "sidecar_mirror_dropped_streams",
            "Mirror streams ended because their client read too slowly",
            registry=r,
        )
        self.breaker_open = prom.Gauge(
            "sidecar_upstream_breaker_open", "1 while the upstream circuit breaker is open", registry=r
        )

    def exposition(self) -> bytes:
        return prom.generate_latest(self.registry)
