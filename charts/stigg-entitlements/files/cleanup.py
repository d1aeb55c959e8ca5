"""The chart's pre-delete hook (templates/cleanup-hook.yaml): what the operator creates at run
time, and Helm therefore neither owns nor deletes, removed before `helm uninstall` deletes the
release's own objects. Run by the operator image's Python, standard library only (the kubernetes
client's models alone outgrow a small memory limit), as the hook's own ServiceAccount.

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

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
COPY_ANNOTATION = "sidecar.stigg.io/copy-of"
MANAGED = "app.kubernetes.io/managed-by=stigg-operator"
POD_WAIT_SECONDS = 120.0
NOT_FOUND = 404


class Api:
    """The apiserver, in-cluster: its Service address, the ServiceAccount's token and CA."""

    def __init__(self) -> None:
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        host = f"[{host}]" if ":" in host else host
        self.base = f"https://{host}:{os.environ['KUBERNETES_SERVICE_PORT']}"
        self.context = ssl.create_default_context(cafile=f"{ACCOUNT}/ca.crt")

    def call(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        """The answer's JSON, or None if there is no such object (404)."""
        with open(f"{ACCOUNT}/token") as token:  # read each time: the kubelet rotates it
            headers = {"Authorization": f"Bearer {token.read().strip()}", "Accept": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)  # noqa: S310 -- https only
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as answer:  # noqa: S310
                return json.load(answer)
        except urllib.error.HTTPError as error:
            if error.code == NOT_FOUND:
                return None
            raise RuntimeError(
                f"{method} {path}: {error.code} {error.read().decode(errors='replace')}"
            ) from error

    def delete(self, path: str, what: str) -> None:
        if self.call("DELETE", path) is not None:
            print(f"deleted {what}")


def main() -> int:
    namespace = os.environ["STIGG_NAMESPACE"]
    deployment = os.environ["STIGG_DEPLOYMENT"]
    selector = urllib.parse.quote(os.environ["STIGG_POD_SELECTOR"])
    api = Api()

    scale = f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}/scale"
    if api.call("PATCH", scale, {"spec": {"replicas": 0}}, "application/merge-patch+json") is not None:
        print(f"scaled deployment {namespace}/{deployment} to 0")
    deadline = time.monotonic() + POD_WAIT_SECONDS
    while pods := api.call("GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={selector}")["items"]:
        if time.monotonic() > deadline:
            names = ", ".join(p["metadata"]["name"] for p in pods)
            print(f"operator Pods still running after {POD_WAIT_SECONDS:g} s: {names}", file=sys.stderr)
            return 1
        time.sleep(1)

    webhook = os.environ["STIGG_WEBHOOK_CONFIGURATION"]
    api.delete(
        f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{webhook}",
        f"mutatingwebhookconfiguration {webhook}",
    )
    secret, lease = os.environ["STIGG_CERT_SECRET"], os.environ["STIGG_LEASE"]
    api.delete(f"/api/v1/namespaces/{namespace}/secrets/{secret}", f"secret {namespace}/{secret}")
    api.delete(
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{lease}", f"lease {namespace}/{lease}"
    )
    managed = urllib.parse.quote(MANAGED)
    for configmap in api.call("GET", f"/api/v1/configmaps?labelSelector={managed}")["items"]:
        meta = configmap["metadata"]
        if (meta.get("annotations") or {}).get(COPY_ANNOTATION, "").startswith(f"{namespace}/"):
            api.delete(
                f"/api/v1/namespaces/{meta['namespace']}/configmaps/{meta['name']}",
                f"configmap {meta['namespace']}/{meta['name']} (a copy of {namespace}'s defaults)",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
