"""A real Kubernetes control plane as local processes, for tests, demos and people.

No container engine runs on the machines this project is developed and tested on, so kind and
k3d are out. The real control-plane components still are not: etcd, kube-apiserver,
kube-controller-manager and kubectl are built from their published Go modules (see ``build``),
started on free loopback ports with certificates generated here (``pki``), and stopped with
every process they spawned (``processes``). ``cluster.LocalCluster`` ties these together;
``cli`` gives a person ``up``/``down``; the pytest fixture lives in ``tests/conftest.py``.

Module roles:

* ``build``      -- pinned wrapper Go modules → binaries in a cache folder outside git.
* ``stigg_operator.pki`` (shared with the operator) -- CA, serving and client certificates.
* ``kubeconfig`` -- writes client-certificate kubeconfigs.
* ``processes``  -- starts supervised processes, stops whole process groups, leaves none behind.
* ``cluster``    -- the cluster lifecycle: ports, flags, readiness, state on disk.
* ``node``       -- the node's configuration (containerd, kubelet, kube-proxy, CNI).
* ``sandbox``    -- the node's namespaces and cgroup root, seen from the host (``nsinit`` is
  their process 1, ``cgroups`` the cgroup root, ``forward`` the loopback forwarders).
* ``reaper``     -- removes a sandbox's cgroup root once it is gone, even after a SIGKILL.
* ``audit``      -- a snapshot of the host before a cluster, compared after: what it left.
* ``cli``        -- ``stigg-localcluster build|up|down|status``.
"""
