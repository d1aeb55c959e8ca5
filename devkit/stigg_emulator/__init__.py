"""The upstream emulator: Stigg's Edge and GraphQL endpoints and real-time stream, served from a
YAML catalog.

Stigg's service cannot be reached from where this project is built and tested, so tests,
benchmarks and the demo run the sidecar against this emulator, a real HTTP server process on
loopback; Stigg's own SDKs (the Node server SDK, the Python API client) work against it with
their default options, so it is also a way to develop against them without Stigg's service. It
speaks both of Stigg's protocols: the current one (``entitlementsV2`` with credit entitlements,
the V2 subscriptions) and the legacy one (``entitlements``, ``cachedEntitlements``,
``entitlements.json``, the first subscriptions). Modules, one concern each:

- ``catalog``: the frozen values of the catalog (features, credit currencies, plans, customers
  and their subscriptions) and what a reset period means (``usage_period``);
- ``loading``: the YAML catalog read into those values and validated, with errors naming the
  place in the file;
- ``render``: the pure rendering of Stigg's JSON (entitlements states with both lists, feature
  and credit entitlements, denial reasons, the ``ReportUsage`` result, the stream's usage);
- ``state``: the mutable state (customers, usage, credits, idempotency keys, events, counters)
  and the operations the endpoints perform on it, publishing each change in both protocols;
- ``faults``: latency, random 500s, outages, and the legacy-only switch;
- ``stream``: the real-time stream (``graphql-transport-ws`` over WebSocket) and the hub
  that publishes ``state``'s changes to it;
- ``graphql``: the GraphQL operations without HTTP: the operation a request names, its
  variables coerced as GraphQL would, resolved against ``state``;
- ``app``: the aiohttp application, thin handlers (Edge API, ``/graphql``, the real-time
  stream's upgrade and the ``/_emulator/`` admin endpoints) over those modules;
- ``__main__``: the command line (``python -m stigg_emulator``,
  ``stigg-upstream-emulator``), which announces ``listening on http://HOST:PORT``;
- ``launcher``: start and stop it as a child process from Python.

``sample_catalog.yaml`` is a small realistic catalog used by tests and the demo.
"""
