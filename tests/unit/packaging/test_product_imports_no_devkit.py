"""The layers: no product module imports the development kit or the tests, the sidecar and the
operator never import each other (both may import ``stigg_envspec``, which imports only the
standard library), and each imports only the standard library, itself and the third-party
modules its own distribution declares (so installing it alone is enough)."""

from __future__ import annotations

import pytest

from tests.unit.packaging import layers


@pytest.mark.parametrize("dist", [layers.SIDECAR, layers.OPERATOR, layers.ENVSPEC], ids=lambda d: d.folder)
def test_product_modules_import_only_themselves_the_stdlib_and_their_declared_dependencies(
    dist: layers.Distribution,
) -> None:
    files = sorted(path for package in dist.packages for path in (dist.root / package).rglob("*.py"))
    assert files, dist.folder
    offending: list[str] = []
    for path in files:
        for module in layers.imported_modules(path):
            top = layers.top_level(module)
            if layers.is_stdlib(module) or top in dist.packages or top in dist.third_party:
                continue
            offending.append(f"{path.relative_to(layers.REPO_ROOT)}: {module}")
    assert offending == []


def test_the_check_is_not_vacuous_the_devkit_does_import_the_product() -> None:
    devkit = layers.REPO_ROOT / "devkit"
    imported = {layers.top_level(m) for path in devkit.rglob("*.py") for m in layers.imported_modules(path)}
    assert {"stigg_operator", "stigg_devkit", "kubernetes"} <= imported
    assert not imported & {"tests"}, "the devkit does not import the tests either"
