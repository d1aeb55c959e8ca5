"""``POST /_emulator/catalog/reload`` re-reads the YAML file the emulator was started with;
an invalid file is refused with its error and the running catalog stays."""

from __future__ import annotations

import pathlib
import shutil
from collections.abc import AsyncIterator

import aiohttp
import pytest

from stigg_emulator import catalog, launcher
from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream


@pytest.fixture
def catalog_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "catalog.yaml"
    shutil.copy(catalog.SAMPLE_PATH, path)
    return path


@pytest.fixture
async def own_upstream(catalog_file: pathlib.Path) -> AsyncIterator[Upstream]:
    """An emulator of this test's own, serving a copy of the sample the test may edit."""
    with launcher.start(catalog_path=catalog_file, latency_ms=0) as running:
        async with aiohttp.ClientSession() as session:
            yield Upstream(running.base_url, running.api_key, session)
        assert running.stop() == 0


def edit(path: pathlib.Path, old: str, new: str, *, append: str = "") -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new) + append)


async def test_reload_serves_the_edited_file(own_upstream: Upstream, catalog_file: pathlib.Path) -> None:
    await own_upstream.report_usage(customerId="customer-free", featureId="feature-api-calls", value=5)
    edit(
        catalog_file,
        "feature-api-calls: {usageLimit: 1000, resetPeriod: MONTH}",
        "feature-api-calls: {usageLimit: 2500, resetPeriod: MONTH}",
        append="  - {id: customer-late, plan: plan-enterprise}\n",
    )
    assert (await own_upstream.entitlements("customer-free"))["feature-api-calls"]["usageLimit"] == 1000

    status, body = await own_upstream.admin("POST", "catalog/reload")
    assert status == 200, body
    assert "customer-late" in body["customers"]
    calls = (await own_upstream.entitlements("customer-free"))["feature-api-calls"]
    assert calls["usageLimit"] == 2500
    assert calls["currentUsage"] == 250  # reported usage is discarded: the file's usage again
    assert (await own_upstream.entitlements("customer-late"))["feature-sso"]["isGranted"] is True


async def test_an_invalid_file_is_refused_and_the_running_catalog_stays(
    own_upstream: Upstream, catalog_file: pathlib.Path
) -> None:
    edit(catalog_file, "", "", append="  - {id: customer-bad, plan: plan-gold}\n")
    status, body = await own_upstream.admin("POST", "catalog/reload")
    assert status == 400
    assert body == {"error": "customers[5].plan: unknown plan 'plan-gold'"}
    assert (await own_upstream.entitlements("customer-free"))["feature-api-calls"]["usageLimit"] == 1000
