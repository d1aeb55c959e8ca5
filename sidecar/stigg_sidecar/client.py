"""A typed Python client for the sidecar (ours or Stigg's: the wire contract is the same).

``AsyncSidecarClient`` (grpc.aio) and ``SidecarClient`` (blocking) expose every method of
``stigg.sidecar.v1.SidecarService`` under a snake_case name, with keyword arguments instead of
nested option messages, and a deadline on every call (``timeout`` per client, overridable per
call). Answers are the generated response messages, fully typed by their stubs. Both clients build
their requests with the module-level builders below, so each method is one call of its stub.

    async with AsyncSidecarClient("localhost:80") as sidecar:
        answer = await sidecar.get_metered_entitlement("customer-1", "api-calls", requested_usage=5)
        if answer.has_access: ...
"""

from __future__ import annotations

import os
import types
from collections.abc import Sequence

import grpc
from google.protobuf import empty_pb2

from stigg_sidecar.v1 import sidecar_pb2 as pb
from stigg_sidecar.v1 import sidecar_pb2_grpc as pb_grpc

DEFAULT_TIMEOUT = 1.0


def default_target() -> str:
    """``STIGG_SIDECAR_HOST:STIGG_SIDECAR_PORT`` (what the operator injects), else localhost:80."""
    return f"{os.environ.get('STIGG_SIDECAR_HOST', 'localhost')}:{os.environ.get('STIGG_SIDECAR_PORT', '80')}"


# -- request builders (shared by both clients) ----------------------------------------------------


def boolean_request(
    customer_id: str, feature_id: str, resource_id: str | None, fallback: bool | None
) -> pb.GetBooleanEntitlementRequest:
    options = (
        None
        if fallback is None
        else pb.BooleanEntitlementOptions(fallback=pb.BooleanEntitlementFallback(has_access=fallback))
    )
    return pb.GetBooleanEntitlementRequest(
        customer_id=customer_id, feature_id=feature_id, resource_id=resource_id, options=options
    )


def numeric_request(
    customer_id: str, feature_id: str, resource_id: str | None, fallback: pb.NumericEntitlementFallback | None
) -> pb.GetNumericEntitlementRequest:
    options = None if fallback is None else pb.NumericEntitlementOptions(fallback=fallback)
    return pb.GetNumericEntitlementRequest(
        customer_id=customer_id, feature_id=feature_id, resource_id=resource_id, options=options
    )


def metered_request(
    customer_id: str,
    feature_id: str,
    resource_id: str | None,
    requested_usage: float | None,
    fallback: pb.MeteredEntitlementFallback | None,
) -> pb.GetMeteredEntitlementRequest:
    options = pb.MeteredEntitlementOptions(requested_usage=requested_usage, fallback=fallback)
    return pb.GetMeteredEntitlementRequest(
        customer_id=customer_id, feature_id=feature_id, resource_id=resource_id, options=options
    )


def enum_request(
    customer_id: str,
    feature_id: str,
    resource_id: str | None,
    requested_values: Sequence[str],
    fallback: pb.EnumEntitlementFallback | None,
) -> pb.GetEnumEntitlementRequest:
    options = pb.EnumEntitlementOptions(requested_values=list(requested_values), fallback=fallback)
    return pb.GetEnumEntitlementRequest(
        customer_id=customer_id, feature_id=feature_id, resource_id=resource_id, options=options
    )


def usage_request(
    customer_id: str, feature_id: str, value: float, resource_id: str | None, set_total: bool
) -> pb.ReportUsageRequest:
    behavior = pb.USAGE_UPDATE_BEHAVIOR_SET if set_total else pb.USAGE_UPDATE_BEHAVIOR_DELTA
    return pb.ReportUsageRequest(
        customer_id=customer_id,
        feature_id=feature_id,
        value=value,
        resource_id=resource_id,
        update_behavior=behavior,
    )


def entitlements_request(customer_id: str, resource_id: str | None) -> pb.GetEntitlementsRequest:
    return pb.GetEntitlementsRequest(customer_id=customer_id, resource_id=resource_id)


def entitlements_state_v2_request(
    customer_id: str, resource_id: str | None
) -> pb.GetEntitlementsStateV2Request:
    return pb.GetEntitlementsStateV2Request(customer_id=customer_id, resource_id=resource_id)


def usage_bulk_request(usages: Sequence[pb.ReportUsageRequest]) -> pb.ReportUsageBulkRequest:
    return pb.ReportUsageBulkRequest(usages=list(usages))


def events_request(events: Sequence[pb.Event]) -> pb.ReportEventsRequest:
    return pb.ReportEventsRequest(events=list(events))


def reload_request(customer_id: str, resource_id: str | None) -> pb.ReloadEntitlementsRequest:
    return pb.ReloadEntitlementsRequest(customer_id=customer_id, resource_id=resource_id)


class _Deadlines:
    """What both clients share besides the builders: the per-client deadline, overridable per call."""

    timeout: float

    def _deadline(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else timeout


class AsyncSidecarClient(_Deadlines):
    """The grpc.aio client: each method builds its request with the module's builders and awaits its stub."""

    def __init__(
        self,
        target: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self._channel = channel or grpc.aio.insecure_channel(target or default_target())
        self._stub = pb_grpc.SidecarServiceStub(self._channel)
        self.timeout = timeout

    async def __aenter__(self) -> AsyncSidecarClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def get_boolean_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        fallback: bool | None = None,
        timeout: float | None = None,
    ) -> pb.GetBooleanEntitlementResponse:
        return await self._stub.GetBooleanEntitlement(
            boolean_request(customer_id, feature_id, resource_id, fallback), timeout=self._deadline(timeout)
        )

    async def get_numeric_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        fallback: pb.NumericEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> pb.GetNumericEntitlementResponse:
        return await self._stub.GetNumericEntitlement(
            numeric_request(customer_id, feature_id, resource_id, fallback), timeout=self._deadline(timeout)
        )

    async def get_metered_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        requested_usage: float | None = None,
        fallback: pb.MeteredEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> pb.GetMeteredEntitlementResponse:
        return await self._stub.GetMeteredEntitlement(
            metered_request(customer_id, feature_id, resource_id, requested_usage, fallback),
            timeout=self._deadline(timeout),
        )

    async def get_enum_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        requested_values: Sequence[str] = (),
        fallback: pb.EnumEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> pb.GetEnumEntitlementResponse:
        return await self._stub.GetEnumEntitlement(
            enum_request(customer_id, feature_id, resource_id, requested_values, fallback),
            timeout=self._deadline(timeout),
        )

    async def get_entitlement(
        self, request: pb.GetEntitlementRequest, *, timeout: float | None = None
    ) -> pb.GetEntitlementResponse:
        return await self._stub.GetEntitlement(request, timeout=self._deadline(timeout))

    async def get_entitlement_v2(
        self, request: pb.GetEntitlementV2Request, *, timeout: float | None = None
    ) -> pb.GetEntitlementV2Response:
        return await self._stub.GetEntitlementV2(request, timeout=self._deadline(timeout))

    async def get_entitlements(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> pb.GetEntitlementsResponse:
        return await self._stub.GetEntitlements(
            entitlements_request(customer_id, resource_id), timeout=self._deadline(timeout)
        )

    async def get_entitlements_state_v2(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> pb.GetEntitlementsStateV2Response:
        return await self._stub.GetEntitlementsStateV2(
            entitlements_state_v2_request(customer_id, resource_id), timeout=self._deadline(timeout)
        )

    async def report_usage(
        self,
        customer_id: str,
        feature_id: str,
        value: float,
        *,
        resource_id: str | None = None,
        set_total: bool = False,
        timeout: float | None = None,
    ) -> pb.ReportUsageResponse:
        return await self._stub.ReportUsage(
            usage_request(customer_id, feature_id, value, resource_id, set_total),
            timeout=self._deadline(timeout),
        )

    async def report_usage_bulk(
        self, usages: Sequence[pb.ReportUsageRequest], *, timeout: float | None = None
    ) -> pb.ReportUsageBulkResponse:
        return await self._stub.ReportUsageBulk(usage_bulk_request(usages), timeout=self._deadline(timeout))

    async def report_events(
        self, events: Sequence[pb.Event], *, timeout: float | None = None
    ) -> empty_pb2.Empty:
        return await self._stub.ReportEvents(events_request(events), timeout=self._deadline(timeout))

    async def reload_entitlements(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> pb.ReloadEntitlementsResponse:
        return await self._stub.ReloadEntitlements(
            reload_request(customer_id, resource_id), timeout=self._deadline(timeout)
        )


class SidecarClient(_Deadlines):
    """The blocking twin of ``AsyncSidecarClient``: the same public methods with the same
    signatures (``tests/unit/sidecar/test_client_method_parity.py`` holds them equal), returning
    answers, not awaitables."""

    def __init__(
        self,
        target: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        channel: grpc.Channel | None = None,
    ) -> None:
        self._channel = channel or grpc.insecure_channel(target or default_target())
        self._stub = pb_grpc.SidecarServiceStub(self._channel)
        self.timeout = timeout

    def __enter__(self) -> SidecarClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def get_boolean_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        fallback: bool | None = None,
        timeout: float | None = None,
    ) -> pb.GetBooleanEntitlementResponse:
        return self._stub.GetBooleanEntitlement(
            boolean_request(customer_id, feature_id, resource_id, fallback), timeout=self._deadline(timeout)
        )

    def get_numeric_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        fallback: pb.NumericEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> pb.GetNumericEntitlementResponse:
        return self._stub.GetNumericEntitlement(
            numeric_request(customer_id, feature_id, resource_id, fallback), timeout=self._deadline(timeout)
        )

    def get_metered_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        requested_usage: float | None = None,
        fallback: pb.MeteredEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> pb.GetMeteredEntitlementResponse:
        return self._stub.GetMeteredEntitlement(
            metered_request(customer_id, feature_id, resource_id, requested_usage, fallback),
            timeout=self._deadline(timeout),
        )

    def get_enum_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        requested_values: Sequence[str] = (),
        fallback: pb.EnumEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> pb.GetEnumEntitlementResponse:
        return self._stub.GetEnumEntitlement(
            enum_request(customer_id, feature_id, resource_id, requested_values, fallback),
            timeout=self._deadline(timeout),
        )

    def get_entitlement(
        self, request: pb.GetEntitlementRequest, *, timeout: float | None = None
    ) -> pb.GetEntitlementResponse:
        return self._stub.GetEntitlement(request, timeout=self._deadline(timeout))

    def get_entitlement_v2(
        self, request: pb.GetEntitlementV2Request, *, timeout: float | None = None
    ) -> pb.GetEntitlementV2Response:
        return self._stub.GetEntitlementV2(request, timeout=self._deadline(timeout))

    def get_entitlements(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> pb.GetEntitlementsResponse:
        return self._stub.GetEntitlements(
            entitlements_request(customer_id, resource_id), timeout=self._deadline(timeout)
        )

    def get_entitlements_state_v2(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> pb.GetEntitlementsStateV2Response:
        return self._stub.GetEntitlementsStateV2(
            entitlements_state_v2_request(customer_id, resource_id), timeout=self._deadline(timeout)
        )

    def report_usage(
        self,
        customer_id: str,
        feature_id: str,
        value: float,
        *,
        resource_id: str | None = None,
        set_total: bool = False,
        timeout: float | None = None,
    ) -> pb.ReportUsageResponse:
        return self._stub.ReportUsage(
            usage_request(customer_id, feature_id, value, resource_id, set_total),
            timeout=self._deadline(timeout),
        )

    def report_usage_bulk(
        self, usages: Sequence[pb.ReportUsageRequest], *, timeout: float | None = None
    ) -> pb.ReportUsageBulkResponse:
        return self._stub.ReportUsageBulk(usage_bulk_request(usages), timeout=self._deadline(timeout))

    def report_events(self, events: Sequence[pb.Event], *, timeout: float | None = None) -> empty_pb2.Empty:
        return self._stub.ReportEvents(events_request(events), timeout=self._deadline(timeout))

    def reload_entitlements(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> pb.ReloadEntitlementsResponse:
        return self._stub.ReloadEntitlements(
            reload_request(customer_id, resource_id), timeout=self._deadline(timeout)
        )
