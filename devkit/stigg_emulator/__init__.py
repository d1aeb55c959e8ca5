"""The upstream emulator: Stigg's Edge and GraphQL endpoints served from a YAML catalog.

Stigg's service cannot be reached from where this project is built and tested, so tests,
benchmarks and the demo run the sidecar against this emulator, a real HTTP server process on
loopback. Modules, one concern each:

- ``catalog``: the YAML catalog (features, plans, customers) into frozen values, validated
  with errors naming the place in the file; the pure rendering of Stigg's Entitlement JSON;
- ``state``: the mutable state (customers, usage, idempotency keys, events, counters) and
  the operations the endpoints perform on it;
- ``faults``: latency, random 500s and outages, applied to product endpoints only;
- ``app``: the aiohttp application (Edge API, ``/graphql`` dispatch by operation name, and
  the ``/_emulator/`` admin endpoints);
- ``__main__``: the command line (``python -m stigg_emulator``,
  ``stigg-upstream-emulator``), which announces ``listening on http://HOST:PORT``;
- ``launcher``: start and stop it as a child process from Python.

``sample_catalog.yaml`` is a small realistic catalog used by tests and the demo.
"""
