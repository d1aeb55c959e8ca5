"""Changes the sidecar applies reach the mirror's answers without a check reaching the sidecar:
a plan change and usage reported elsewhere (the upstream's real-time events), and a reload."""

from __future__ import annotations

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar.mirror import client as mirrored_client
from tests.integration.sidecar import conftest as sidecar_conftest
from tests.integration.sidecar.mirror import conftest


async def test_a_plan_change_and_usage_elsewhere_reach_the_mirror(
    mirror_sidecar: sidecar_launcher.RunningSidecar, emulator: launcher.RunningEmulator
) -> None:
    async with mirrored_client.AsyncMirroredSidecarClient(
        mirror_sidecar.grpc_target, timeout=5, staleness=2
    ) as mirror:
        first = await conftest.amirrored(
            lambda: mirror.get_boolean_entitlement("customer-free", "feature-sso")
        )
        assert not first.has_access
        await conftest.amirrored(lambda: mirror.get_metered_entitlement("customer-pro", "feature-seats"))
        before = conftest.checks_answered(mirror_sidecar)

        status, _ = await sidecar_conftest.emulator_admin(
            emulator, "PUT", "customers/customer-free", {"plan": "plan-pro"}
        )
        assert status == 200

        async def granted() -> bool:
            answer = await mirror.get_boolean_entitlement("customer-free", "feature-sso")
            return answer.from_mirror and answer.has_access

        await waiting.eventually(granted, within=5, what="the plan change to reach the mirror")

        reported_elsewhere = {"customerId": "customer-pro", "featureId": "feature-seats", "value": 12}
        reported_elsewhere["updateBehavior"] = "SET"
        status, _ = await sidecar_conftest.report_upstream(emulator, reported_elsewhere)
        assert status == 200

        async def updated() -> bool:
            answer = await mirror.get_metered_entitlement("customer-pro", "feature-seats", requested_usage=4)
            return (
                answer.from_mirror
                and answer.response.entitlement.current_usage == 12
                and not answer.has_access
            )

        await waiting.eventually(updated, within=5, what="the usage event to reach the mirror")
        assert conftest.checks_answered(mirror_sidecar) == before, "no check reached the sidecar"
        assert mirror_sidecar.metric("sidecar_mirror_changes_total") >= 2


async def test_a_reload_reaches_the_mirror(
    mirror_sidecar: sidecar_launcher.RunningSidecar, emulator: launcher.RunningEmulator
) -> None:
    async with mirrored_client.AsyncMirroredSidecarClient(
        mirror_sidecar.grpc_target, timeout=5, staleness=2
    ) as mirror:
        await conftest.amirrored(
            lambda: mirror.get_numeric_entitlement("customer-free", "feature-max-projects")
        )
        status, _ = await sidecar_conftest.emulator_admin(
            emulator, "PUT", "customers/customer-free", {"plan": "plan-pro"}
        )
        assert status == 200
        assert (await mirror.reload_entitlements("customer-free")).entitled_entity_exists

        async def twenty() -> bool:
            answer = await mirror.get_numeric_entitlement("customer-free", "feature-max-projects")
            return answer.from_mirror and answer.response.entitlement.value == 20

        await waiting.eventually(twenty, within=5, what="the reloaded state in the mirror")
