"""What tests, benchmarks and the demo share, and what never ships in an image.

- ``childproc``: child processes that die with their parent, free ports, one way to stop them;
- ``sidecar_launcher``: run the sidecar as a child process (``python -m stigg_sidecar``);
- ``operator_launcher``: run the operator as a child process against a cluster;
- ``waiting``: polls with a deadline, instead of sleeps;
- ``locks``: an exclusive lock on a cache folder, across processes;
- ``stigg_sdks``: Stigg's own Node SDK and Python clients (sidecar SDK and API client, in one
  environment), installed outside git (pinned by ``stigg_peers/``) for the tests that use them
  as peers;
- ``images``: the product's images, built from their Dockerfiles without a daemon, a registry or
  a network (mmdebstrap, buildah), as OCI archives in a cache folder (``make images``).

Its sibling packages in this distribution are ``stigg_emulator`` (the upstream emulator) and
``stigg_localcluster`` (the local Kubernetes control plane). No product module imports any of
them.
"""
