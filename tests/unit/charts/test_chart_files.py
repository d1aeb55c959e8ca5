"""The chart's own files, without helm: its CRDs are the repository's, its README's values table
is the generated one, and every value is documented (helm itself runs the chart in
tests/integration/charts)."""

from __future__ import annotations

import pathlib

from stigg_devkit import chart_docs

ROOT = pathlib.Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "stigg-entitlements"
CRDS = ROOT / "crds"


def test_the_chart_crds_are_the_repository_crds() -> None:
    """One source of truth: crds/ at the root; the chart's crds/ is a byte-identical copy."""
    source = sorted(p.name for p in CRDS.glob("*.yaml"))
    copied = sorted(p.name for p in (CHART / "crds").iterdir())
    assert copied == source, "the chart's crds/ holds exactly the repository's crds/*.yaml"
    for name in source:
        assert (CHART / "crds" / name).read_bytes() == (CRDS / name).read_bytes(), (
            f"charts/stigg-entitlements/crds/{name} differs from crds/{name}: cp crds/{name} "
            "charts/stigg-entitlements/crds/"
        )


def test_the_values_table_is_the_generated_one() -> None:
    _, text, updated = chart_docs.current_readme()
    assert text == updated, "run: make chart-docs"


def test_every_value_is_documented() -> None:
    """``rows`` raises on a value without a comment; here, on a synthetic one."""
    documented = chart_docs.descriptions("a:\n  # -- the b\n  b: 1\n  c: 2\n")
    assert documented == {"a.b": "the b"}
    assert {row.key for row in chart_docs.rows()} >= {
        "replicaCount",
        "webhook.failurePolicy",
        "podMonitor.enabled",
    }
