"""``stigg-operator``: read the settings once, register the handlers, run kopf.

Runs cluster-wide (it watches StiggEntitlements and Pods in every namespace) and standalone
(one replica; no peering objects needed).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import kopf

from stigg_operator import adapters, settings


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
    registry = kopf.OperatorRegistry()
    adapters.register(registry, config)
    asyncio.run(
        kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=True,
            liveness_endpoint=os.environ.get("STIGG_OPERATOR_LIVENESS_ENDPOINT") or None,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
