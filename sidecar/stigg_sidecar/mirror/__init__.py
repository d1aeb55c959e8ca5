"""The mirror: a read replica of the sidecar's entitlement state inside an application process.

A check through gRPC costs a round trip and some 300 to 500 µs of the sidecar's CPU; a check
answered in the application's own process, by the same rules (``semantics``), costs a few µs.
The sidecar keeps what it is good at (one upstream connection, the real-time stream, the
durable usage outbox, the fail-safe chain); a mirrored client follows the customers it asks
about over one ``stigg_sidecar.mirror.v1.MirrorService/Follow`` stream
(``proto/stigg_sidecar/mirror/v1/mirror.proto`` says the protocol).

Sidecar side:

* ``hub``: who follows which customer, and every change of a held entry fanned out to them, in
  order, through bounded per-stream buffers;
* ``service``: the Follow RPC over the hub.

Client side:

* ``replica``: the customers a client holds, their freshness and its staleness bound (pure);
* ``client``: ``MirroredSidecarClient`` and ``AsyncMirroredSidecarClient``, the plain clients'
  methods answered in-process when the replica can;
* ``answers``: what their checks return (the response message, and where it came from).

``codec`` (model ⇄ mirror messages, and the framing the hub sends) is both sides'.
"""
