"""The upstream: where entitlements come from and usage goes to.

``base`` defines the ``Upstream`` protocol and its errors, ``parse`` turns Stigg's JSON into
domain objects, ``breaker`` is the circuit breaker, and ``stigg`` implements the protocol
over Stigg's documented HTTP APIs (Edge API for reads, GraphQL for writes and for reads when
the Edge API is off), with timeouts, bounded jittered retries and the breaker.
"""
