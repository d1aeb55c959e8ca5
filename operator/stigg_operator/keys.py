"""Every label, annotation and name the operator reads or writes, in one place.

(Named ``keys``, not ``annotations``: that name is taken by ``from __future__ import annotations``.)
"""

from __future__ import annotations

GROUP = "sidecar.stigg.io"
VERSION = "v1alpha1"
PLURAL = "stiggentitlements"
KIND = "StiggEntitlements"

# Opt-in and opt-out (selected on the apiserver side by the webhook configuration).
NAMESPACE_INJECTION_LABEL = f"{GROUP}/injection"  # = "enabled" on a namespace
POD_INJECT_LABEL = f"{GROUP}/inject"  # = "true" opts a Pod in, "false" opts it out

# On a Deployment, StatefulSet or DaemonSet: "true" opts its Pods in, "false" out (the operator
# carries it into the Pod template as POD_INJECT_LABEL, with CONFIG_ANNOTATION if set).
WORKLOAD_INJECT_ANNOTATION = f"{GROUP}/inject"

# Per-Pod annotations read by the webhook.
CONFIG_ANNOTATION = f"{GROUP}/config"  # which StiggEntitlements to use
IMAGE_ANNOTATION = f"{GROUP}/image"
LOG_LEVEL_ANNOTATION = f"{GROUP}/log-level"
CPU_REQUEST_ANNOTATION = f"{GROUP}/cpu-request"
CPU_LIMIT_ANNOTATION = f"{GROUP}/cpu-limit"
MEMORY_REQUEST_ANNOTATION = f"{GROUP}/memory-request"
MEMORY_LIMIT_ANNOTATION = f"{GROUP}/memory-limit"

# Written by the webhook on the Pods it injects.
INJECTED_ANNOTATION = f"{GROUP}/injected"  # "<namespace>/<resource>@<config hash>"
INJECTED_LABEL = f"{GROUP}/injected"  # = "true", for counting injected Pods with a selector

# Stamped on a Pod template to roll its workload onto a changed configuration (a wiring hash).
ROLLOUT_ANNOTATION = f"{GROUP}/rollout-wiring"

# On cluster-default's ConfigMap copies: "<namespace>/<name>" of the ConfigMap copied (and so the
# mark of a copy, which the operator alone may update or delete).
COPY_ANNOTATION = f"{GROUP}/copy-of"

# On Standalone mode's objects: a digest of what was last applied (an unchanged one is not re-applied).
APPLIED_ANNOTATION = f"{GROUP}/applied-digest"

# Server-side apply field managers: opt-in template fields and the defaults ConfigMaps, rollout
# stamps, and the objects of Standalone mode (each its own, so that one's apply never releases
# another's fields).
FIELD_MANAGER = "stigg-operator"
ROLLOUT_FIELD_MANAGER = "stigg-operator-rollout"
STANDALONE_FIELD_MANAGER = "stigg-operator-standalone"

# Events the operator posts on Pods.
MISSING_SIDECAR_REASON = "StiggSidecarMissing"
REPAIR_REASON = "StiggSidecarRepair"
# And on StiggEntitlements: a reconcile that failed outside kopf (the periodic refresh), and a
# namespace where cluster-default's ConfigMap cannot be copied (another ConfigMap has its name).
RECONCILE_FAILED_REASON = "ReconcileFailed"
COPY_CONFLICT_REASON = "DefaultsCopyConflict"

# Names.
CLUSTER_DEFAULT_NAME = "cluster-default"
SIDECAR_CONTAINER = "stigg-sidecar"
DEFAULTS_VOLUME = "stigg-defaults"
STATE_VOLUME = "stigg-state"
DEFAULTS_MOUNT_PATH = "/etc/stigg/defaults"
STATE_MOUNT_PATH = "/var/lib/stigg"
DEFAULTS_FILE = "defaults.json"
GRPC_PORT_NAME = "stigg-grpc"
HTTP_PORT_NAME = "stigg-http"
APP_HOST_ENV = "STIGG_SIDECAR_HOST"
APP_PORT_ENV = "STIGG_SIDECAR_PORT"

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


def configmap_name(resource_name: str) -> str:
    """The defaults ConfigMap rendered for a StiggEntitlements resource."""
    return f"{resource_name}-stigg-defaults"


def standalone_name(resource_name: str) -> str:
    """The shared Deployment, Service, PodDisruptionBudget, NetworkPolicy and HPA of standalone mode."""
    return f"{resource_name}-stigg-sidecar"
