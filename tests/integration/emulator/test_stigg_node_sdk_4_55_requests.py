"""The requests of Stigg's Node server SDK 4.55.0 (which cannot be installed here), replayed
against the emulator from ``fixtures/node_sdk_4_55_requests.json`` (its provenance is in the
file): its REST paths and GraphQL documents, with its headers, and its three subscriptions over
the stream. Every answer is a 200 without errors, and has every field its documents select
(checked by walking the answers along the documents' selection sets, parsed with graphql-js)."""

from __future__ import annotations

import json
import pathlib
import shutil
from typing import Any

import pytest

from stigg_emulator import stream
from tests.integration.emulator import peers
from tests.integration.emulator import upstream as upstream_client

Upstream = upstream_client.Upstream
FIXTURE = pathlib.Path(__file__).with_name("fixtures") / "node_sdk_4_55_requests.json"


@pytest.fixture(scope="module")
def requests() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text())
    return loaded


def headers(requests: dict[str, Any], api_key: str, *extra: str) -> dict[str, str]:
    sent = {**requests["headers"], "X-API-KEY": api_key}
    for group in extra:
        sent.update(requests[group])
    return sent


def missing_fields(stigg_node_sdk: pathlib.Path, answers: list[dict[str, Any]]) -> dict[str, list[str]]:
    node = shutil.which("node")
    assert node is not None, "node is not installed"
    env = peers.loopback_env(NODE_PATH=str(stigg_node_sdk / "node_modules"))
    found: dict[str, list[str]] = peers.run_json(
        [node, str(peers.HERE / "check_selections.js")], env=env, stdin=answers
    )
    return found


async def test_its_reads_and_writes_are_answered_with_every_selected_field(
    upstream: Upstream, requests: dict[str, Any], stigg_node_sdk: pathlib.Path
) -> None:
    documents = {request["operationName"]: request["query"] for request in requests["graphql"]}
    answers: list[dict[str, Any]] = []
    for request in requests["edge"]:
        async with upstream.session.get(
            upstream.base_url + request["path"], headers=headers(requests, upstream.api_key, "edgeHeaders")
        ) as response:
            assert response.status == 200, request
            body = await response.json()
        assert "errors" not in body
        answers.append(
            {"name": request["name"], "query": documents[request["document"]], "data": body["data"]}
        )
    for request in requests["graphql"]:
        sent = headers(requests, upstream.api_key, "graphqlHeaders")
        sent["x-graphql-operation-name"] = request["operationName"]
        async with upstream.session.post(
            f"{upstream.base_url}/graphql", json=request, headers=sent
        ) as response:
            assert response.status == 200, request["operationName"]
            body = await response.json()
        assert "errors" not in body, body
        answers.append({"name": request["operationName"], "query": request["query"], "data": body["data"]})
    assert missing_fields(stigg_node_sdk, answers) == {answer["name"]: [] for answer in answers}
    by_name = {answer["name"]: answer["data"] for answer in answers}
    kinds = [
        item["__typename"] for item in by_name["getEntitlementsState"]["entitlementsState"]["entitlementsV2"]
    ]
    assert kinds == ["FeatureEntitlement"] * 5 + ["CreditEntitlement"]
    assert by_name["ReportEvent"] == {"reportEvent": None}


async def test_its_subscriptions_get_every_selected_field(
    rated_emulator: tuple[pathlib.Path, Upstream], requests: dict[str, Any], stigg_node_sdk: pathlib.Path
) -> None:
    path, upstream = rated_emulator
    init = {"type": "connection_init", "payload": {"headers": headers(requests, upstream.api_key)}}
    subscriptions = {str(index): request for index, request in enumerate(requests["subscriptions"])}
    async with upstream.session.ws_connect(
        f"{upstream.base_url}/graphql", protocols=(stream.PROTOCOL,)
    ) as socket:
        await socket.send_json(init)
        assert await upstream_client.next_message(socket) == {"type": "connection_ack"}
        for sid, request in subscriptions.items():
            await socket.send_json({"id": sid, "type": "subscribe", "payload": {**request, "extensions": {}}})
        await socket.send_json({"type": "ping"})
        assert await upstream_client.next_message(socket) == {"type": "pong"}
        await upstream.admin("PUT", "customers/customer-free", {"plan": "plan-pro"})
        await upstream.admin("DELETE", "customers/customer-archived")
        await upstream.report_usage(customerId="customer-pro", featureId="feature-api-calls", value=10)
        path.write_text(path.read_text().replace("displayName: Free\n", "displayName: Free forever\n"))
        await upstream.admin("POST", "catalog/reload")
        answers: list[dict[str, Any]] = []
        while True:
            try:
                message = await socket.receive(timeout=0.3)
            except TimeoutError:
                break
            parsed = json.loads(message.data)
            assert parsed["type"] == "next", parsed
            request = subscriptions[parsed["id"]]
            answers.append(
                {
                    "name": f"{request['operationName']}#{len(answers)}",
                    "query": request["query"],
                    "data": parsed["payload"]["data"],
                }
            )
    fields = [next(iter(answer["data"])) for answer in answers]
    assert set(fields) == {"entitlementsUpdatedV2", "usageUpdatedV2", "packagePublished"}
    assert missing_fields(stigg_node_sdk, answers) == {answer["name"]: [] for answer in answers}
    payloads = [answer["data"][field] for answer, field in zip(answers, fields, strict=True)]
    deleted = [
        p
        for f, p in zip(fields, payloads, strict=True)
        if f == "entitlementsUpdatedV2" and p["customerId"] == "customer-archived"
    ]
    assert [(p["accessDeniedReason"], p["entitlements"]) for p in deleted] == [
        ("CustomerNotFound", []),  # deleted
        ("CustomerIsArchived", []),  # back, as the catalog has it, after the reload
    ]
    references = [
        p["entitlementReference"] for f, p in zip(fields, payloads, strict=True) if f == "usageUpdatedV2"
    ]
    assert references == [
        {"type": "FEATURE", "id": "feature-api-calls"},
        {"type": "CREDIT", "id": "credits-ai"},
    ]
    published = [p for f, p in zip(fields, payloads, strict=True) if f == "packagePublished"]
    assert [(p["packageRefId"], p["packageVersion"], p["migrationType"]) for p in published] == [
        ("plan-free", 2, "ALL_CUSTOMERS")
    ]


def test_the_selection_check_finds_what_an_answer_lacks(stigg_node_sdk: pathlib.Path) -> None:
    query = (
        "query Q { state { list { __typename ...U } } }"
        " fragment U on EntitlementUnion { ... on A { a } ... on B { b { c } } }"
    )
    data = {
        "state": {
            "list": [
                {"__typename": "A"},
                {"__typename": "B", "b": [{"c": 1}, {}]},
                {"__typename": "A", "a": None},
            ]
        }
    }
    assert missing_fields(stigg_node_sdk, [{"name": "q", "query": query, "data": data}]) == {
        "q": ["state.list[0].a", "state.list[1].b[1].c"]
    }
