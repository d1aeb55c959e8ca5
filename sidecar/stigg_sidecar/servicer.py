"""The ``stigg.sidecar.v1.SidecarService`` servicer: thin adapters over ``checker`` (reads) and
``writes`` (usage and events).

Each method converts the request (``wire``), asks the checker or the writer, converts the
answer back, and counts the outcome. This is the one place that maps errors to gRPC status
codes: ``wire.InvalidRequest`` → INVALID_ARGUMENT (the message names the field); an upstream
that cannot be reached for a write, or none at all (``model.Offline``) → UNAVAILABLE; an
upstream that refuses a write → FAILED_PRECONDITION (our API key) or INVALID_ARGUMENT (its
input); a full usage outbox → RESOURCE_EXHAUSTED; bytes that are not the request message →
INVALID_ARGUMENT (``add_to_server`` registers the methods so, instead of gRPC's UNKNOWN with a
traceback per call). Checks never fail for upstream reasons: the
checker's fail-safe order always yields an answer.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import grpc
from google.protobuf import empty_pb2, message_factory
from google.protobuf import message as protobuf_message

from stigg_sidecar import checker, metrics, model, outbox, semantics, wire, writes
from stigg_sidecar.mirror import codec as mirror_codec
from stigg_sidecar.mirror import hub
from stigg_sidecar.mirror import service as mirror_service
from stigg_sidecar.upstream import base
from stigg_sidecar.v1 import sidecar_pb2 as pb
from stigg_sidecar.v1 import sidecar_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, Any]


async def _abort(context: Context, code: grpc.StatusCode, details: str) -> NoReturn:
    await context.abort(code, details)
    raise AssertionError("context.abort returned")  # pragma: no cover -- abort always raises


async def _upstream_failed(context: Context, error: base.UpstreamError | model.Offline) -> NoReturn:
    if isinstance(error, model.Offline):
        await _abort(context, grpc.StatusCode.UNAVAILABLE, str(error))
    if isinstance(error, base.UpstreamRejected):
        if error.status in {401, 403}:
            await _abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, "the upstream refused the sidecar's API key"
            )
        await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"the upstream rejected the request: {error}")
    await _abort(context, grpc.StatusCode.UNAVAILABLE, f"the upstream is unavailable: {error}")


@dataclasses.dataclass(frozen=True)
class _Malformed:
    """What a request that did not parse becomes, so its method can refuse it by name."""

    message: str
    problem: str


def _parser(message_class: Any) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return message_class.FromString(data)
        except protobuf_message.DecodeError as error:
            return _Malformed(message_class.DESCRIPTOR.name, str(error)[:200])

    return parse


def _refusing_malformed(
    method: Callable[[Any, Context], Awaitable[Any]],
) -> Callable[[Any, Context], Awaitable[Any]]:
    async def call(request: Any, context: Context) -> Any:
        if isinstance(request, _Malformed):
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request is not a valid {request.message}: {request.problem}",
            )
        return await method(request, context)

    return call


def add_to_server(servicer: SidecarServicer, server: grpc.aio.Server) -> None:
    """Register ``stigg.sidecar.v1.SidecarService`` as the generated code does, except that a
    request that does not parse is INVALID_ARGUMENT naming its message."""
    service = pb.DESCRIPTOR.services_by_name["SidecarService"]
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        method.name: grpc.unary_unary_rpc_method_handler(
            _refusing_malformed(getattr(servicer, method.name)),
            request_deserializer=_parser(message_factory.GetMessageClass(method.input_type)),
            response_serializer=lambda response: response.SerializeToString(),
        )
        for method in service.methods
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))


class SidecarServicer(pb_grpc.SidecarServiceServicer):
    def __init__(
        self,
        checks: checker.Checker,
        writer: writes.Writer,
        sidecar_metrics: metrics.Metrics,
        mirror: hub.Hub | None = None,
    ) -> None:
        self.checker = checks
        self.writer = writer
        self.metrics = sidecar_metrics
        self.mirror = mirror

    def _tell_sequence(self, context: Context) -> None:
        """A write from a mirrored client names its Follow stream: answer with that stream's
        sequence number now, after the write was applied (``mirror.proto``: reads of own writes)."""
        if self.mirror is None:
            return
        stream_id = mirror_service.stream_id_of(context)
        sequence = None if stream_id is None else self.mirror.sequence(stream_id)
        if sequence is not None:
            context.set_trailing_metadata(((mirror_codec.SEQUENCE_METADATA, str(sequence)),))

    def _count(self, method: str, decision: semantics.Decision, started: float) -> None:
        outcome = "fallback" if decision.is_fallback else "granted" if decision.has_access else "denied"
        self._answered(method, outcome, started)

    def _answered(self, method: str, outcome: str, started: float) -> None:
        """Count a check's outcome and how long the handler took (``started``: perf_counter)."""
        self.metrics.check[method, outcome].inc()
        self.metrics.check_duration[method].observe(time.perf_counter() - started)

    async def _invalid(self, context: Context, method: str, error: wire.InvalidRequest) -> NoReturn:
        if (method, "invalid") in self.metrics.check:
            self.metrics.check[method, "invalid"].inc()
        await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))

    async def _decide(
        self,
        context: Context,
        method: str,
        request: Any,
        kind: model.CheckKind,
        *,
        usage_field: str | None = None,
        values_field: str | None = None,
    ) -> tuple[semantics.Decision, str]:
        """Validate a typed single-feature request and decide it."""
        started = time.perf_counter()
        try:
            key = wire.customer_key(request)
            feature_id = request.feature_id
            if not feature_id.strip():
                raise wire.InvalidRequest("feature_id", "must not be empty")
            options = request.options if request.HasField("options") else None
            usage = None
            values: tuple[str, ...] = ()
            request_fallback = None
            if options is not None:
                if usage_field and options.HasField("requested_usage"):
                    usage = wire.requested_usage(options.requested_usage, f"options.{usage_field}")
                if values_field:
                    values = wire.requested_values(options.requested_values, f"options.{values_field}")
                if options.HasField("fallback"):
                    request_fallback = wire.fallback(options.fallback, "options.fallback")
        except wire.InvalidRequest as error:
            await self._invalid(context, method, error)
        decision = await self.checker.check(
            key,
            feature_id,
            kind,
            requested_usage=usage,
            requested_values=values,
            request_fallback=request_fallback,
            time_remaining=context.time_remaining(),
        )
        self._count(method, decision, started)
        return decision, feature_id

    # -- checks ---------------------------------------------------------------------------------
    async def GetBooleanEntitlement(
        self, request: pb.GetBooleanEntitlementRequest, context: Context
    ) -> pb.GetBooleanEntitlementResponse:
        kind = model.CheckKind.BOOLEAN
        decision, feature_id = await self._decide(context, "GetBooleanEntitlement", request, kind)
        return wire.boolean_response(decision, feature_id)

    async def GetNumericEntitlement(
        self, request: pb.GetNumericEntitlementRequest, context: Context
    ) -> pb.GetNumericEntitlementResponse:
        kind = model.CheckKind.NUMERIC
        decision, feature_id = await self._decide(context, "GetNumericEntitlement", request, kind)
        return wire.numeric_response(decision, feature_id)

    async def GetMeteredEntitlement(
        self, request: pb.GetMeteredEntitlementRequest, context: Context
    ) -> pb.GetMeteredEntitlementResponse:
        kind = model.CheckKind.METERED
        decision, feature_id = await self._decide(
            context, "GetMeteredEntitlement", request, kind, usage_field="requested_usage"
        )
        return wire.metered_response(decision, feature_id)

    async def GetEnumEntitlement(
        self, request: pb.GetEnumEntitlementRequest, context: Context
    ) -> pb.GetEnumEntitlementResponse:
        kind = model.CheckKind.ENUM
        decision, feature_id = await self._decide(
            context, "GetEnumEntitlement", request, kind, values_field="requested_values"
        )
        return wire.enum_response(decision, feature_id)

    async def GetEntitlement(
        self, request: pb.GetEntitlementRequest, context: Context
    ) -> pb.GetEntitlementResponse:
        decision, _ = await self._decide(
            context,
            "GetEntitlement",
            request,
            model.CheckKind.ANY,
            usage_field="requested_usage",
            values_field="requested_values",
        )
        return wire.entitlement_response(decision)

    async def GetEntitlementV2(
        self, request: pb.GetEntitlementV2Request, context: Context
    ) -> pb.GetEntitlementV2Response:
        if request.HasField("currency_id") and not request.HasField("feature_id"):
            credit = await self._decide_credit(context, request)
            return wire.entitlement_v2_response(credit)
        decision, _ = await self._decide(
            context,
            "GetEntitlementV2",
            request,
            model.CheckKind.ANY,
            usage_field="requested_usage",
            values_field="requested_values",
        )
        return wire.entitlement_v2_response(decision)

    async def _decide_credit(
        self, context: Context, request: pb.GetEntitlementV2Request
    ) -> semantics.Decision:
        """Validate a credit check (``currency_id``) and decide it."""
        method = "GetEntitlementV2"
        started = time.perf_counter()
        try:
            key = wire.customer_key(request)
            currency_id = wire.identifier(request.currency_id, "currency_id")
            requested = None
            request_fallback = None
            if request.HasField("options"):
                options = request.options
                if options.HasField("requested_usage"):
                    requested = wire.requested_usage(options.requested_usage, "options.requested_usage")
                if options.HasField("fallback"):
                    request_fallback = wire.fallback(options.fallback, "options.fallback")
        except wire.InvalidRequest as error:
            await self._invalid(context, method, error)
        decision = await self.checker.check_credit(
            key,
            currency_id,
            requested=requested,
            request_fallback=request_fallback,
            time_remaining=context.time_remaining(),
        )
        self._count(method, decision, started)
        return decision

    async def GetEntitlements(
        self, request: pb.GetEntitlementsRequest, context: Context
    ) -> pb.GetEntitlementsResponse:
        started = time.perf_counter()
        try:
            key = wire.customer_key(request)
        except wire.InvalidRequest as error:
            await self._invalid(context, "GetEntitlements", error)
        state = await self.checker.state(key, time_remaining=context.time_remaining())
        if state is None:
            self._answered("GetEntitlements", "fallback", started)
            return pb.GetEntitlementsResponse(entitlements=self._default_entitlements())
        self._answered("GetEntitlements", "granted" if state.denied_reason is None else "denied", started)
        return wire.entitlements_response(state)

    def _default_entitlements(self) -> list[pb.Entitlement]:
        return [
            pb.Entitlement(**wire.any_entitlement(default.entitlement(feature_id, model.CheckKind.ANY)))
            for feature_id, default in self.checker.static_defaults()
            if default.has_access
        ]

    async def GetEntitlementsStateV2(
        self, request: pb.GetEntitlementsStateV2Request, context: Context
    ) -> pb.GetEntitlementsStateV2Response:
        started = time.perf_counter()
        try:
            key = wire.customer_key(request)
        except wire.InvalidRequest as error:
            await self._invalid(context, "GetEntitlementsStateV2", error)
        state = await self.checker.state(key, time_remaining=context.time_remaining())
        if state is None:
            self._answered("GetEntitlementsStateV2", "fallback", started)
            decisions = [
                default.decide(feature_id, model.CheckKind.ANY)
                for feature_id, default in self.checker.static_defaults()
            ]
            return pb.GetEntitlementsStateV2Response(entitlements=[wire.entitlement_v2(d) for d in decisions])
        self._answered(
            "GetEntitlementsStateV2", "granted" if state.denied_reason is None else "denied", started
        )
        return wire.entitlements_state_v2_response(state)

    # -- writes and control -----------------------------------------------------------------------
    async def ReloadEntitlements(
        self, request: pb.ReloadEntitlementsRequest, context: Context
    ) -> pb.ReloadEntitlementsResponse:
        try:
            key = wire.customer_key(request)
        except wire.InvalidRequest as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            exists = await self.checker.reload(key)
        except (base.UpstreamError, model.Offline) as error:
            await _upstream_failed(context, error)
        return pb.ReloadEntitlementsResponse(entitled_entity_exists=exists)

    async def ReportUsage(self, request: pb.ReportUsageRequest, context: Context) -> pb.ReportUsageResponse:
        try:
            report = wire.usage_report(request)
        except wire.InvalidRequest as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            (result,) = await self.writer.report_usage([report])
        except outbox.OutboxFull as error:
            await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        except (base.UpstreamError, model.Offline) as error:
            await _upstream_failed(context, error)
        self._tell_sequence(context)
        return wire.usage_result(result)

    async def ReportUsageBulk(
        self, request: pb.ReportUsageBulkRequest, context: Context
    ) -> pb.ReportUsageBulkResponse:
        try:
            usages = wire.bulk(request.usages, "usages")
            reports = [wire.usage_report(usage, f"usages[{i}].") for i, usage in enumerate(usages)]
        except wire.InvalidRequest as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            results = await self.writer.report_usage(reports)
        except outbox.OutboxFull as error:
            await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        except (base.UpstreamError, model.Offline) as error:
            await _upstream_failed(context, error)
        self._tell_sequence(context)
        return pb.ReportUsageBulkResponse(usages=[wire.usage_result(r) for r in results])

    async def ReportEvents(self, request: pb.ReportEventsRequest, context: Context) -> empty_pb2.Empty:
        try:
            listed = wire.bulk(request.events, "events")
            events = [wire.usage_event(event, f"events[{i}].") for i, event in enumerate(listed)]
        except wire.InvalidRequest as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            await self.writer.report_events(events)
        except outbox.OutboxFull as error:
            await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        except (base.UpstreamError, model.Offline) as error:
            await _upstream_failed(context, error)
        return empty_pb2.Empty()
