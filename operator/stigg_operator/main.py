"""``stigg-operator``: read the settings once, register the handlers, run kopf.

Runs cluster-wide (it watches StiggEntitlements, Pods and workloads in every namespace), as one
of several replicas: kopf runs standalone in each (kopf's peering would pause a replica's
watches, and so its webhook's indexes); which replica writes is decided by the Lease
(``leadership``), named in the log by this replica's identity, the Pod's name and a random
suffix (a restarted container is a new candidate, as in client-go). The process's one
``metrics.Metrics`` is made here and passed, like the settings, to what records (the elector
reports its gains and losses to it); counters export no ``_created`` series (Prometheus does
not need them, and they double the counters' series).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import uuid

import kopf
import prometheus_client

from stigg_operator import adapters, leadership, metrics, settings
from stigg_operator.kube import rest


def main() -> int:
    try:
        config = settings.Settings.from_env(os.environ)
    except settings.SettingsError as error:
        print(f"stigg-operator: invalid configuration: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # the library's own
    instruments = metrics.Metrics()
    elector = leadership.Elector(
        rest.shared_client,
        config.namespace,
        config.lease_name,
        f"{config.pod_name or socket.gethostname()}_{uuid.uuid4().hex[:8]}",
        leadership.Timing.from_lease_duration(config.lease_duration_seconds),
        on_change=instruments.leadership_changed,
    )
    registry = kopf.OperatorRegistry()
    adapters.register(registry, config, elector, instruments)
    asyncio.run(
        kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=True,
            liveness_endpoint=config.liveness_endpoint,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
