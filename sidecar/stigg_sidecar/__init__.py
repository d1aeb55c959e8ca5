"""The entitlements sidecar: a Stigg-compatible gRPC service answering checks from a local cache.

Pure parts (no I/O): ``model`` (domain types), ``semantics`` (the check rules), ``pending``
(the pending-usage ledger), ``footprint`` (what a cached state holds in memory), ``cache``
(the byte-bounded LRU), ``wire`` (protobuf messages to and from the model), ``defaults`` (the
static default values), ``settings`` (the environment, read once).

Around them: ``store`` (the entitlement store: cache, Redis, loads), ``checker`` (the read path
and its fail-safe order), ``writes`` (the write path), ``outbox`` (the durable usage outbox and
its drainer, ``deadletters`` its command), ``realtime`` (stream events into the store),
``upstream`` (Stigg's APIs and stream), ``shared_cache`` (Redis), ``servicer`` (the gRPC
adapter), ``probe_port`` (the bounded HTTP port), ``descriptors`` (file descriptors shared by
the ports), ``server`` (the process and its shutdown), ``metrics``, ``logs``, ``client`` (a
typed client for Python apps). Generated protobuf code lives in ``stigg_sidecar/v1`` only.
"""
