"""Run inside the virtual environment of Stigg's Python clients (``stigg_devkit.stigg_sdks``,
which holds the API client stigg-api-client-v2), not the project's: ``python
stigg_python_client.py calls`` makes Stigg's client call the emulator at ``$EMULATOR_URL`` with
``$EMULATOR_API_KEY``, through the Edge API and through GraphQL (the client validates every
answer with its pydantic models), and prints one JSON object: per call, ``{"ok": true,
"value": ...}`` (a summary of the validated model) or ``{"ok": false, "error": ...}``.
``python stigg_python_client.py validate`` reads ``[{"model": NAME, "data": ...}]`` on stdin
and validates each ``data`` with the client's model ``stigg.generated.NAME`` (for the stream's
payloads, whose fragments the client has but no subscription), printing the same."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from stigg import Stigg, generated


def _summary(value: Any) -> Any:
    return json.loads(value.model_dump_json(by_alias=True))


def _entitlement_kinds(state: Any) -> list[str]:
    return [type(item).__name__ for item in state.entitlements_state.entitlements_v_2]


def calls() -> dict[str, Any]:
    url, key = os.environ["EMULATOR_URL"], os.environ["EMULATOR_API_KEY"]
    results: dict[str, Any] = {}

    def run(name: str, call: Callable[[], Any], summarize: Callable[[Any], Any] = _summary) -> None:
        try:
            results[name] = {"ok": True, "value": summarize(call())}
        except Exception as exc:  # reported to the test, which fails on it
            results[name] = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc(),
            }

    holders = {
        "pro": ("customer-pro", None),
        "workspace": ("customer-enterprise", "workspace-eu"),
        "missing-resource": ("customer-enterprise", "workspace-missing"),
        "unknown": ("customer-nobody", None),
        "archived": ("customer-archived", None),
        "unsubscribed": ("customer-unsubscribed", None),
    }
    for edge in (True, False):
        via = "edge" if edge else "graphql"
        client = Stigg.create_client(key, api_url=f"{url}/graphql", enable_edge=edge, edge_api_url=url)
        for label, (customer_id, resource_id) in holders.items():
            query = generated.FetchEntitlementsQuery(customerId=customer_id, resourceId=resource_id)
            run(
                f"{via}:get_entitlements_state:{label}", lambda q=query, c=client: c.get_entitlements_state(q)
            )
            run(f"{via}:get_entitlements:{label}", lambda q=query, c=client: c.get_entitlements(q))
        run(
            f"{via}:get_entitlements_state:kinds",
            lambda c=client: c.get_entitlements_state(
                generated.FetchEntitlementsQuery(customerId="customer-pro")
            ),
            _entitlement_kinds,
        )
        for label, feature_id in (
            ("over-limit", "feature-api-calls"),
            ("unknown-feature", "feature-teleport"),
        ):
            query_one = generated.FetchEntitlementQuery(
                customerId="customer-free",
                featureId=feature_id,
                options=generated.EntitlementOptions(requestedUsage=800),
            )
            run(f"{via}:get_entitlement:{label}", lambda q=query_one, c=client: c.get_entitlement(q))
    client = Stigg.create_client(key, api_url=f"{url}/graphql", edge_api_url=url)
    run("graphql:get_sdk_configuration", client.get_sdk_configuration)
    run(
        "graphql:report_usage",
        lambda: client.report_usage(
            generated.ReportUsageInput(
                customerId="customer-free", featureId="feature-api-calls", value=5, idempotencyKey="py-1"
            )
        ),
    )
    run(
        "graphql:report_usage_bulk",
        lambda: client.report_usage_bulk(
            generated.ReportUsageBulkInput(
                usages=[
                    generated.ReportUsageBaseInput(
                        customerId="customer-free", featureId="feature-seats", value=1
                    ),
                    generated.ReportUsageBaseInput(
                        customerId="customer-enterprise",
                        resourceId="workspace-eu",
                        featureId="feature-api-calls",
                        value=3,
                        updateBehavior=generated.UsageUpdateBehavior.SET,
                    ),
                ]
            )
        ),
    )
    run(
        "graphql:report_event",
        lambda: client.report_event(
            generated.UsageEventsReportInput(
                usageEvents=[
                    generated.UsageEventReportInput(
                        customerId="customer-pro",
                        eventName="ai_query",
                        idempotencyKey="py-e-1",
                        dimensions={"n": 1},
                    )
                ]
            )
        ),
    )
    return results


def validate() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for index, item in enumerate(json.load(sys.stdin)):
        name = f"{index}:{item['model']}"
        try:
            results[name] = {
                "ok": True,
                "value": _summary(getattr(generated, item["model"]).model_validate(item["data"])),
            }
        except Exception as exc:  # reported to the test, which fails on it
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return results


if __name__ == "__main__":
    print(json.dumps({"calls": calls, "validate": validate}[sys.argv[1]]()))
