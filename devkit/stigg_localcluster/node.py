"""A real node in the local cluster: containerd, kubelet and kube-proxy, in the sandbox.

The configuration is rendered here (pure functions: ``containerd_config``, ``kubelet_config``,
``kube_proxy_config``, ``cni_config``) and written under ``<state>/node``; ``cluster`` starts the
processes in the sandbox's namespaces. The choices that make it work on these machines, and
leave them as they were (``../shared/REFERENCE.md`` section 6):

- containerd keeps its content, snapshots and state in the state folder (its sockets under
  ``/run/containerd``, which is overlaid in the sandbox) and sets ``restrict_oom_score_adj``:
  the sandbox may not lower ``oom_score_adj``, and runc fails every container without it;
- kubelet: ``failCgroupV1: false`` (these VMs are cgroup v1), ``cgroupDriver: cgroupfs`` under
  the harness's own cgroup root, ``failSwapOn: false``, no iptables chains of its own, its
  folders in the state folder, x509 client authentication against the cluster CA, image
  garbage collection off (the images are imported, never pulled: a collected one is gone);
  ``syncFrequency`` is 10 s, so a ConfigMap edit reaches a mounted volume within seconds;
- kube-proxy in iptables mode writes its rules in the sandbox's network namespace only, and
  leaves the machine-wide conntrack settings alone;
- CNI: Debian's ``bridge`` and ``host-local`` plugins, one Pod subnet, no masquerade.

No registry is reachable: every image, the pause image included, is imported from an OCI
archive with ``ctr``, and Pods use ``imagePullPolicy: Never`` (or ``IfNotPresent``).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import yaml

from stigg_localcluster import sandbox

NODE_NAME = "stigg-node"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"  # /run is overlaid inside the sandbox
CNI_BIN_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins
RUNC = "/usr/sbin/runc"  # Debian's runc
KUBELET_PORT = 10250
SYNC_FREQUENCY_SECONDS = 10
CONTAINERD_NAMESPACE = "k8s.io"
CLUSTER_DOMAIN = "cluster.local"
COREDNS_USER = "stigg-localcluster:coredns"


def containerd_config(state: pathlib.Path, *, pause_ref: str) -> str:
    return f"""version = 4
root = "{state / "containerd" / "root"}"
state = "/run/containerd"
imports = []
disabled_plugins = [
  "io.containerd.nri.v1.nri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.differ.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{CONTAINERD_SOCKET}"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{pause_ref}"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{CNI_BIN_DIR}"]
    conf_dir = "{state / "cni" / "net.d"}"
    max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
"""


def cni_config(state: pathlib.Path, network: sandbox.Network) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "stigg-localcluster",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": network.pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(state / "cni" / "ipam"),
                },
            }
        ],
    }


def kubelet_config(
    state: pathlib.Path, *, ca_file: pathlib.Path, cgroup_root: str, cluster_dns: str
) -> dict[str, Any]:
    kubelet = state / "kubelet"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{cgroup_root}",
        "failSwapOn": False,
        "makeIPTablesUtilChains": False,
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "podLogsDir": str(kubelet / "pod-logs"),
        "volumePluginDir": str(kubelet / "volume-plugins"),
        "tlsCertFile": str(kubelet / "serving.crt"),
        "tlsPrivateKeyFile": str(kubelet / "serving.key"),
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "x509": {"clientCAFile": str(ca_file)},
            "webhook": {"enabled": False},
            "anonymous": {"enabled": False},
        },
        "authorization": {"mode": "AlwaysAllow"},  # only holders of a cluster-CA certificate get here
        "syncFrequency": f"{SYNC_FREQUENCY_SECONDS}s",
        "fileCheckFrequency": "20s",
        "nodeStatusUpdateFrequency": "4s",
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "imageMinimumGCAge": "8760h",
        "evictionHard": {"memory.available": "64Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        # CoreDNS at the node's address answers the cluster's names; nothing else resolves.
        "resolvConf": str(kubelet / "resolv.conf"),
        "clusterDNS": [cluster_dns],
        "clusterDomain": CLUSTER_DOMAIN,
        "serializeImagePulls": False,
        "kubeAPIQPS": 50,
        "kubeAPIBurst": 100,
        "shutdownGracePeriod": "0s",
        "protectKernelDefaults": False,  # it sets three kernel settings: bound over in the sandbox
        "localStorageCapacityIsolation": True,
        "maxPods": 110,
    }


def kube_proxy_config(
    kubeconfig: pathlib.Path, network: sandbox.Network, ports: tuple[int, int]
) -> dict[str, Any]:
    healthz, metrics = ports
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "clusterCIDR": network.pod_cidr,
        "bindAddress": network.node_ip,
        "healthzBindAddress": f"127.0.0.1:{healthz}",
        "metricsBindAddress": f"127.0.0.1:{metrics}",
        "nodePortAddresses": ["primary"],
        # Zero: leave nf_conntrack_max and the TCP timeouts (machine-wide settings) as they are.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": {"masqueradeAll": False, "syncPeriod": "30s", "minSyncPeriod": "0s"},
    }


def write_configs(
    state: pathlib.Path,
    *,
    network: sandbox.Network,
    ca_file: pathlib.Path,
    cgroup_root: str,
    pause_ref: str,
    kube_proxy_kubeconfig: pathlib.Path,
    kube_proxy_ports: tuple[int, int],
    coredns_kubeconfig: pathlib.Path,
    coredns_ready_port: int,
) -> dict[str, pathlib.Path]:
    """Write every node configuration file under ``state``; returns their paths by name."""
    for folder in ("containerd", "cni/net.d", "cni/ipam", "kubelet"):
        (state / folder).mkdir(parents=True, exist_ok=True)
    paths = {
        "containerd": state / "containerd" / "config.toml",
        "cni": state / "cni" / "net.d" / "10-stigg-localcluster.conflist",
        "kubelet": state / "kubelet" / "config.yaml",
        "kube-proxy": state / "kube-proxy.yaml",
        "coredns": state / "Corefile",
    }
    paths["coredns"].write_text(corefile(network, coredns_kubeconfig, ready_port=coredns_ready_port))
    paths["containerd"].write_text(containerd_config(state, pause_ref=pause_ref))
    paths["cni"].write_text(json.dumps(cni_config(state, network), indent=2))
    paths["kubelet"].write_text(
        yaml.safe_dump(
            kubelet_config(state, ca_file=ca_file, cgroup_root=cgroup_root, cluster_dns=network.node_ip),
            sort_keys=False,
        )
    )
    (state / "kubelet" / "resolv.conf").write_text("")
    paths["kube-proxy"].write_text(
        yaml.safe_dump(kube_proxy_config(kube_proxy_kubeconfig, network, kube_proxy_ports), sort_keys=False)
    )
    return paths


def corefile(network: sandbox.Network, kubeconfig: pathlib.Path, *, ready_port: int) -> str:
    """CoreDNS on the node's address: the cluster's Service and Pod names, nothing forwarded."""
    return f"""{CLUSTER_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {{
    bind {network.node_ip}
    errors
    ready 127.0.0.1:{ready_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        ttl 5
    }}
    cache 5
}}
.:53 {{
    bind {network.node_ip}
    errors
}}
"""


def _binding(name: str, role: str, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


def node_rbac() -> list[dict[str, Any]]:
    """The node's client identity gets the ``system:node`` role (this cluster authorizes with
    RBAC only: no Node authorizer); CoreDNS may read what it serves names for."""
    coredns_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": COREDNS_USER},
        "rules": [
            {"apiGroups": [""], "resources": ["services", "pods", "namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        ],
    }
    return [
        _binding("stigg-localcluster:node", "system:node", f"system:node:{NODE_NAME}"),
        coredns_role,
        _binding(COREDNS_USER, COREDNS_USER, COREDNS_USER),
    ]
