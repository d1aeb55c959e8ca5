"""The upstream emulator: Stigg's Edge and GraphQL endpoints served from a YAML catalog.

Stigg's service cannot be reached from where this project is built and tested, so tests,
benchmarks and the demo run the sidecar against this emulator, a real HTTP server process on
loopback. Modules, one concern each:

- ``catalog``: the frozen values of the catalog (features, plans, customers and their
  subscriptions) and what a reset period means (``usage_period``);
- ``loading``: the YAML catalog read into those values and validated, with errors naming the
  place in the file;
- ``render``: the pure rendering of Stigg's JSON (entitlements states, denial reasons, the
  ``ReportUsage`` result);
- ``state``: the mutable state (customers, usage, idempotency keys, events, counters) and
  the operations the endpoints perform on it;
- ``faults``: latency, random 500s and outages, applied to product endpoints only;
- ``stream``: the real-time stream (``graphql-transport-ws`` over WebSocket) and the hub
  that publishes ``state``'s changes to it;
- ``graphql``: the four GraphQL operations without HTTP: the operation a request names, its
  variables coerced as GraphQL would, resolved against ``state``;
- ``app``: the aiohttp application, thin handlers (Edge API, ``/graphql``, the real-time
  stream's upgrade and the ``/_emulator/`` admin endpoints) over those modules;
- ``__main__``: the command line (``python -m stigg_emulator``,
  ``stigg-upstream-emulator``), which announces ``listening on http://HOST:PORT``;
- ``launcher``: start and stop it as a child process from Python.

``sample_catalog.yaml`` is a small realistic catalog used by tests and the demo.
"""
