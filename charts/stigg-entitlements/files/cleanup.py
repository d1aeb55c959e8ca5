"""The chart's pre-delete hook (templates/cleanup-hook.yaml): what the operator creates at run
time, and Helm therefore neither owns nor deletes, removed before `helm uninstall` deletes the
release's own objects. Run by the operator image's Python (its kubernetes client), as the hook's
own ServiceAccount.

1. The operator Deployment scaled to zero, and its Pods waited for: a replica still running
   would register its webhook configuration again at start, or recreate its certificate Secret.
2. Then, each only if present: the MutatingWebhookConfiguration (else, once the Service is gone,
   a `failurePolicy: Fail` webhook would refuse every opted-in Pod in the cluster), the webhook
   certificate Secret, the leader election Lease, and the copies of cluster-default's defaults
   ConfigMap in the namespaces it served (marked `sidecar.stigg.io/copy-of: <namespace>/...`;
   the resources' own ConfigMaps go with their StiggEntitlements, by owner reference).

Every name comes from the environment the hook's Job sets from the chart's values.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client, config

COPY_ANNOTATION = "sidecar.stigg.io/copy-of"
MANAGED = "app.kubernetes.io/managed-by=stigg-operator"
POD_WAIT_SECONDS = 120.0


def _absent_ok(call: Callable[..., Any], *args: Any) -> bool:
    """``call(*args)``; False if the object was not there (404), True if it was."""
    try:
        call(*args)
    except client.ApiException as error:
        if error.status == 404:  # Not Found
            return False
        raise
    return True


def main() -> int:
    namespace = os.environ["STIGG_NAMESPACE"]
    deployment = os.environ["STIGG_DEPLOYMENT"]
    selector = os.environ["STIGG_POD_SELECTOR"]
    config.load_incluster_config()
    apps, core = client.AppsV1Api(), client.CoreV1Api()

    if _absent_ok(apps.patch_namespaced_deployment_scale, deployment, namespace, {"spec": {"replicas": 0}}):
        print(f"scaled deployment {namespace}/{deployment} to 0")
    deadline = time.monotonic() + POD_WAIT_SECONDS
    while pods := core.list_namespaced_pod(namespace, label_selector=selector).items:
        if time.monotonic() > deadline:
            names = ", ".join(p.metadata.name for p in pods)
            print(f"operator Pods still running after {POD_WAIT_SECONDS:g} s: {names}", file=sys.stderr)
            return 1
        time.sleep(1)

    webhook = os.environ["STIGG_WEBHOOK_CONFIGURATION"]
    admission = client.AdmissionregistrationV1Api()
    if _absent_ok(admission.delete_mutating_webhook_configuration, webhook):
        print(f"deleted mutatingwebhookconfiguration {webhook}")
    for kind, delete, name in (
        ("secret", core.delete_namespaced_secret, os.environ["STIGG_CERT_SECRET"]),
        ("lease", client.CoordinationV1Api().delete_namespaced_lease, os.environ["STIGG_LEASE"]),
    ):
        if _absent_ok(delete, name, namespace):
            print(f"deleted {kind} {namespace}/{name}")
    for configmap in core.list_config_map_for_all_namespaces(label_selector=MANAGED).items:
        meta = configmap.metadata
        if (meta.annotations or {}).get(COPY_ANNOTATION, "").startswith(f"{namespace}/") and _absent_ok(
            core.delete_namespaced_config_map, meta.name, meta.namespace
        ):
            print(f"deleted configmap {meta.namespace}/{meta.name} (a copy of {namespace}'s defaults)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
