"""Kubernetes I/O of the operator, one module per kind of work; no decisions are taken here.

* ``rest``: the transport (credentials, the shared client, apply/get/list/delete of any kind);
* ``configmaps``: the defaults ConfigMap of a resource and cluster-default's copies;
* ``secrets``: whether referenced Secrets exist, and the webhook's certificate Secret;
* ``status``: the status subresource of a StiggEntitlements;
* ``events``: core/v1 Events on objects (best effort);
* ``workloads``: Deployments, StatefulSets, DaemonSets (and ReplicaSets): get and apply;
* ``pods``: opted-in Pods, and deleting one for a repair;
* ``admission``: the MutatingWebhookConfiguration.

Objects the operator owns are written by server-side apply under its field managers
(``keys.FIELD_MANAGER`` for ConfigMaps and opt-in template fields, ``keys.ROLLOUT_FIELD_MANAGER``,
``keys.STANDALONE_FIELD_MANAGER``), ConfigMaps included. Three writes are not applies, on
purpose: the status is a merge patch (a ``None`` block removes itself), and the certificate
Secret and the webhook configuration are created, then replaced, as the RBAC grants them
(``update`` of those names only, never ``patch``).
"""
