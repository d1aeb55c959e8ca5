# Entry points for people and CI. Everything a target needs, it installs itself.
#   make demo   the end-to-end demo on the local control plane
#   make test   the whole test suite: the unit tests, then the integration tests (builds the
#               control plane on first use)
#   make test-unit  the pure tests only: no Go, no control plane, no servers (seconds)
#   make lint   ruff (lint + format check) and mypy --strict on product code
#   make images the sidecar and operator images, built from their Dockerfiles without a daemon or
#               network into OCI archives in ~/.cache/stigg-images (only when their inputs changed)
#   make e2e    the end-to-end suite alone (tests/integration/node) on a local cluster with a
#               node, or with E2E_KUBECONFIG=FILE on that existing cluster (kind, k3d), where
#               the images (make images) are loaded already
#   make tools  helm, promtool and prometheus, built from the Go module proxy if missing (the chart
#               and monitoring tests run them)
#   make bench  benchmarks; each writes its report to bench/results/
#   make proto  regenerate sidecar/stigg_sidecar/v1 from proto/
#   make settings-docs  regenerate the variables tables in the settings modules' docstrings
#   make chart-docs  regenerate the values table in charts/stigg-entitlements/README.md

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export GOTOOLCHAIN ?= local

SETTINGS := stigg_sidecar.settings:Settings stigg_operator.settings:Settings

.PHONY: tools e2e settings-docs chart-docs test-unit help install cluster-bin demo test lint format up down clean constraints bench proto system-deps python-peers images

help:
	@sed -n 's/^#   //p' Makefile

# The distributions (envspec, sidecar, operator, devkit), editable, plus the devkit's dev tools.
DISTS := envspec/pyproject.toml sidecar/pyproject.toml operator/pyproject.toml devkit/pyproject.toml

$(STAMP): pyproject.toml $(DISTS) constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ./envspec -e ./sidecar -e ./operator -e './devkit[dev]'
	touch $@

# Stigg's Python clients (sidecar SDK and API client), test peers, in a virtual environment of
# their own outside git: they cannot share .venv (stigg-api-client-v2 wants pydantic<2.13, the
# kubernetes client >=2.14.2). stigg_devkit.stigg_sdks installs it, pinned by
# devkit/stigg_devkit/stigg_peers/python-clients-requirements.txt, and does nothing when it is
# installed already; run here so that the tests find it ready (they would install it on first use).
python-peers: $(STAMP)
	$(BIN)/python -m stigg_devkit.stigg_sdks python

install: $(STAMP) python-peers

cluster-bin: $(STAMP)
	$(BIN)/stigg-localcluster build

tools: $(STAMP)
	$(BIN)/stigg-localcluster build-tools

demo: cluster-bin
	$(BIN)/python demo/run.py $(DEMO_ARGS)

# Debian packages the tests run for real: a redis-server for the shared-cache tests; mmdebstrap
# and buildah for the images; runc, the CNI plugins and iptables for the node (as
# command=package pairs: the plugins have no command on PATH).
SYSTEM_DEPS := redis-server=redis-server mmdebstrap=mmdebstrap buildah=buildah runc=runc \
  /usr/lib/cni/bridge=containernetworking-plugins iptables=iptables nsenter=util-linux
system-deps:
	@missing=$$(for pair in $(SYSTEM_DEPS); do tool=$${pair%%=*}; \
	  command -v $$tool >/dev/null || [ -x "$$tool" ] || echo $${pair#*=}; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# The images (stigg_devkit.images): a Debian base from Debian's packages, then Dockerfile.sidecar
# and Dockerfile.operator built by buildah (chroot isolation, no network), as OCI archives.
images: $(STAMP) system-deps
	$(BIN)/python -m stigg_devkit.images

test-unit: install
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test: test-unit cluster-bin tools system-deps images
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

# An existing cluster needs nothing built here but the Python environment.
E2E_DEPS := $(if $(E2E_KUBECONFIG),,cluster-bin system-deps images)
e2e: install $(E2E_DEPS)
	STIGG_E2E_KUBECONFIG=$(E2E_KUBECONFIG) $(BIN)/python -m pytest tests/integration/node $(PYTEST_ARGS)

bench: cluster-bin system-deps images
	$(BIN)/python bench/cluster_start.py
	$(BIN)/python bench/node_pods.py
	$(BIN)/python bench/operator_ha.py
	$(BIN)/python bench/sidecar_checks.py
	$(BIN)/python bench/sidecar_memory.py
	$(BIN)/python bench/admission.py
	$(BIN)/python bench/stream_propagation.py
	$(BIN)/python bench/mirror_checks.py
	$(BIN)/python bench/resync_stampede.py
	$(BIN)/python bench/cache_memory.py
	$(BIN)/python bench/usage_consistency.py
	$(BIN)/python bench/fault_soak.py

proto: $(STAMP)
	$(BIN)/python proto/generate.py

settings-docs: $(STAMP)
	$(BIN)/python -m stigg_envspec $(SETTINGS)

# From the `# --` comments of the chart's values.yaml (stigg_devkit.chart_docs).
chart-docs: $(STAMP)
	$(BIN)/python -m stigg_devkit.chart_docs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

up: cluster-bin
	@$(BIN)/stigg-localcluster up

down: $(STAMP)
	@$(BIN)/stigg-localcluster down

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Stigg's Python clients are pinned apart, in devkit/stigg_devkit/stigg_peers/ (see its header).
constraints: $(STAMP)
	{ echo "# Exact versions CI installs (make install: the three distributions and the devkit's dev extra)."; \
	  echo "# Regenerate after changing pyproject.toml: make constraints"; \
	  $(BIN)/pip freeze --exclude-editable | sort -f; } > constraints.txt
