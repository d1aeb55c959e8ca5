"""Mirrored clients: the plain clients' methods, answered in-process when the mirror can.

``MirroredSidecarClient`` (blocking; the stream is read by a daemon thread) and
``AsyncMirroredSidecarClient`` (grpc.aio; a task reads it) have the methods of
``client.SidecarClient`` under the same names and parameters. A customer's first check goes
to the sidecar over gRPC and subscribes the customer on the client's Follow stream; from then
on its checks are decided here, by ``semantics`` (the rules the sidecar applies, imported, not
copied), from the replica (``replica``) for as long as it may answer: heard from within
``staleness`` seconds, confirmed on the current stream, and fresh as the sidecar judges it.
Otherwise, and for anything the replica cannot decide exactly as the sidecar would (a feature
it does not hold, a request the sidecar would refuse), the check goes to the sidecar, and so
through its fail-safe chain.

Reads return ``answers.Answer``: ``has_access``, ``is_fallback``, ``denied_reason``,
``from_mirror`` and ``response`` (the plain client's response message). Writes go to the
sidecar (its durable outbox) and return the plain client's response; usage reported here shows
in this client's answers at once (``replica``: reads of own writes, never counted twice).

    with MirroredSidecarClient("localhost:80", staleness=2.0) as sidecar:
        if sidecar.get_boolean_entitlement("customer-1", "feature-sso").has_access: ...

A sidecar without the mirror (Stigg's own, or ``SIDECAR_MIRROR_ENABLED=false``) answers Follow
with UNIMPLEMENTED: the client then asks it over gRPC for everything, as the plain one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
import threading
import types
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2

from stigg_sidecar import client, model, semantics, wire
from stigg_sidecar.mirror import answers, codec, replica
from stigg_sidecar.v1 import mirror_pb2 as mpb
from stigg_sidecar.v1 import mirror_pb2_grpc as mpb_grpc
from stigg_sidecar.v1 import sidecar_pb2 as pb
from stigg_sidecar.v1 import sidecar_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

DEFAULT_STALENESS = 3.0
DEFAULT_MAX_CUSTOMERS = 10_000
BACKOFF_MIN = 0.05
BACKOFF_MAX = 2.0

R = TypeVar("R")
Fallback = pb.NumericEntitlementFallback | pb.MeteredEntitlementFallback | pb.EnumEntitlementFallback
_BOOLEAN = model.CheckKind.BOOLEAN
_NUMERIC = model.CheckKind.NUMERIC
_METERED = model.CheckKind.METERED
_ENUM = model.CheckKind.ENUM
_ANY = model.CheckKind.ANY


# -- what both clients share: deciding in-process, and following -------------------------------


def _key(customer_id: str, resource_id: str | None) -> replica.Key:
    return (customer_id, resource_id if resource_id and resource_id.strip() else None)


def _decidable(
    feature_id: str,
    requested_usage: float | None,
    requested_values: Sequence[str],
    fallback: Fallback | None,
) -> bool:
    """Whether the sidecar would take the request as it is (else it goes there, to be refused
    with the field named exactly as the sidecar names it)."""
    if not feature_id.strip() or len(feature_id) > wire.MAX_ID_LENGTH:
        return False
    if requested_usage is not None and not 0 <= requested_usage <= wire.MAX_NUMBER:
        return False
    try:
        if requested_values:
            wire.requested_values(requested_values, "options.requested_values")
        if fallback is not None:
            wire.fallback(fallback, "options.fallback")
    except wire.InvalidRequest:
        return False
    return True


def _subscribe(keys: Sequence[replica.Key]) -> mpb.FollowRequest:
    return mpb.FollowRequest(subscribe=[replica.key_message(key) for key in keys])


def _unsubscribe(keys: Sequence[replica.Key]) -> mpb.FollowRequest:
    return mpb.FollowRequest(unsubscribe=[replica.key_message(key) for key in keys])


def _sequence_of(trailing: Sequence[tuple[str, str | bytes]] | None) -> int | None:
    for key, value in trailing or ():
        if key == codec.SEQUENCE_METADATA:
            return int(value)
    return None


def _generic_params(
    request: pb.GetEntitlementRequest | pb.GetEntitlementV2Request,
) -> tuple[float | None, tuple[str, ...], Any]:
    """A generic request's options: requested usage and values, and its fallback message."""
    if not request.HasField("options"):
        return None, (), None
    options = request.options
    usage = options.requested_usage if options.HasField("requested_usage") else None
    fallback = options.fallback if options.HasField("fallback") else None
    return usage, tuple(options.requested_values), fallback


class _Mirroring:
    """The in-process half both clients share: the replica, and deciding from it."""

    replica: replica.Replica
    supported: bool = True  # False once the sidecar answered Follow with UNIMPLEMENTED

    def _decide(  # noqa: PLR0917 -- the hot path: positional is cheapest
        self,
        customer_id: str,
        resource_id: str | None,
        feature_id: str,
        kind: model.CheckKind,
        requested_usage: float | None,
        requested_values: Sequence[str],
        fallback: Fallback | None,
        build: Callable[[semantics.Decision, str], R],
    ) -> answers.Answer[R] | None:
        """The answer from the replica, or None when the sidecar has to give it."""
        key = (customer_id, resource_id if resource_id and resource_id.strip() else None)
        if requested_usage is None and not requested_values and fallback is None:
            decision = self.replica.decided(key, feature_id, kind)  # the hot path
        else:
            state = self.replica.fresh(key)
            if state is None:
                return None
            if state.denied_reason is None and feature_id not in state.entitlements:
                return None  # the sidecar says whether the feature exists (or the id is valid)
            if not _decidable(feature_id, requested_usage, requested_values, fallback):
                return None
            decision = semantics.evaluate(state, feature_id, kind, requested_usage, requested_values)
        if decision is None:
            return None
        return answers.Answer(
            decision.has_access,
            decision.is_fallback,
            decision.denied_reason,
            True,
            None,
            build,
            (decision, feature_id),
        )

    def _decide_request(
        self,
        request: pb.GetEntitlementRequest | pb.GetEntitlementV2Request,
        build: Callable[[semantics.Decision, str], R],
    ) -> answers.Answer[R] | None:
        if isinstance(request, pb.GetEntitlementV2Request) and not request.HasField("feature_id"):
            return self._decide_credit(request) if request.HasField("currency_id") else None  # type: ignore[return-value]
        usage, values, fallback = _generic_params(request)
        return self._decide(
            request.customer_id, request.resource_id, request.feature_id, _ANY, usage, values, fallback, build
        )

    def _decide_credit(
        self, request: pb.GetEntitlementV2Request
    ) -> answers.Answer[pb.GetEntitlementV2Response] | None:
        state = self.replica.fresh(_key(request.customer_id, request.resource_id))
        currency_id = request.currency_id
        if state is None or (state.denied_reason is None and currency_id not in state.credits):
            return None
        usage, _values, fallback = _generic_params(request)
        if not _decidable(currency_id, usage, (), fallback):
            return None
        decision = semantics.evaluate_credit(state, currency_id, usage)
        return answers.mirrored(decision, wire.entitlement_v2_response, decision)

    def _state(
        self,
        customer_id: str,
        resource_id: str | None,
        build: Callable[[model.EntitlementState], R],
    ) -> answers.Answer[R] | None:
        state = self.replica.fresh(_key(customer_id, resource_id))
        return None if state is None else answers.state_mirrored(state, build)

    def _own_writes(
        self, results: Sequence[pb.ReportUsageResponse], stream_id: str | None, sequence: int | None
    ) -> None:
        if stream_id is None or sequence is None:
            return
        for result in results:
            if result.HasField("current_usage"):
                key = _key(result.customer_id, result.resource_id)
                self.replica.own_usage(key, result.feature_id, result.current_usage, stream_id, sequence)

    def _heard(self, status: mpb.Status) -> None:
        if status.heartbeat_seconds * 2 > self.replica.staleness:
            logger.warning(
                "mirror: the sidecar sends a heartbeat every %.1fs; a staleness bound of %.1fs "
                "(less than two heartbeats) will send checks to gRPC between them",
                status.heartbeat_seconds,
                self.replica.staleness,
            )

    @staticmethod
    def _unsupported() -> None:
        logger.info("mirror: the sidecar does not serve MirrorService; every check goes over gRPC")


# -- the blocking client ------------------------------------------------------------------------


class MirroredSidecarClient(_Mirroring):
    """``client.SidecarClient``'s methods, answered from an in-process replica when it can."""

    def __init__(
        self,
        target: str | None = None,
        *,
        timeout: float = client.DEFAULT_TIMEOUT,
        staleness: float = DEFAULT_STALENESS,
        max_customers: int = DEFAULT_MAX_CUSTOMERS,
        channel: grpc.Channel | None = None,
    ) -> None:
        self._channel = channel or grpc.insecure_channel(target or client.default_target())
        self.plain = client.SidecarClient(channel=self._channel, timeout=timeout)
        self._stub = pb_grpc.SidecarServiceStub(self._channel)
        self._mirror = mpb_grpc.MirrorServiceStub(self._channel)
        self.replica = replica.Replica(staleness=staleness, max_customers=max_customers)
        self._closing = threading.Event()
        self._requests: queue.SimpleQueue[mpb.FollowRequest | None] | None = None
        self._call: Any = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def timeout(self) -> float:
        return self.plain.timeout

    def __enter__(self) -> MirroredSidecarClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        requests, call = self._requests, self._call
        if requests is not None:
            requests.put(None)
        if call is not None:
            call.cancel()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._channel.close()

    # -- following ------------------------------------------------------------------------------

    def _follow(self, customer_id: str, resource_id: str | None) -> None:
        """A check went to the sidecar: subscribe the customer (the first time)."""
        if not self.supported or self._closing.is_set():
            return
        key = _key(customer_id, resource_id)
        if not self.replica.want(key):
            return
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="stigg-mirror", daemon=True)
                    self._thread.start()
                    return  # the new stream subscribes every key wanted
        requests = self._requests
        if requests is not None:
            requests.put(_subscribe([key]))

    def _run(self) -> None:
        backoff = BACKOFF_MIN
        while not self._closing.is_set():
            stream_id = uuid.uuid4().hex
            requests: queue.SimpleQueue[mpb.FollowRequest | None] = queue.SimpleQueue()
            self._requests = requests  # before begin: a key wanted meanwhile is sent on this stream
            keys = self.replica.begin(stream_id)
            if keys:
                requests.put(_subscribe(keys))
            call = self._mirror.Follow(
                iter(requests.get, None), metadata=((codec.STREAM_METADATA, stream_id),)
            )
            self._call = call
            try:
                for message in call:
                    applied = self.replica.apply(message)
                    backoff = BACKOFF_MIN
                    if applied.gap:
                        break
                    if applied.forget:
                        requests.put(_unsubscribe(applied.forget))
                    if message.HasField("status") and message.sequence == 1:
                        self._heard(message.status)
            except grpc.RpcError as error:
                code = error.code()
                if code is grpc.StatusCode.UNIMPLEMENTED:
                    self.supported = False
                    self._unsupported()
                    return
                if not self._closing.is_set():
                    logger.debug("mirror: the stream ended: %s", code)
            except Exception:  # a reader that dies would leave the mirror silent: follow again
                logger.warning("mirror: the stream's reader failed; following again", exc_info=True)
            finally:
                requests.put(None)
                call.cancel()
                self.replica.ended(stream_id)
            self._closing.wait(backoff * random.uniform(0.5, 1.5))  # noqa: S311 -- jitter
            backoff = min(backoff * 2, BACKOFF_MAX)

    # -- checks ---------------------------------------------------------------------------------

    def get_boolean_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        fallback: bool | None = None,
        timeout: float | None = None,
    ) -> answers.Answer[pb.GetBooleanEntitlementResponse]:
        answer = self._decide(
            customer_id, resource_id, feature_id, _BOOLEAN, None, (), None, wire.boolean_response
        )
        if answer is not None:
            return answer
        response = self.plain.get_boolean_entitlement(
            customer_id, feature_id, resource_id=resource_id, fallback=fallback, timeout=timeout
        )
        self._follow(customer_id, resource_id)
        return answers.of_check(response)

    def get_numeric_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        fallback: pb.NumericEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> answers.Answer[pb.GetNumericEntitlementResponse]:
        answer = self._decide(
            customer_id, resource_id, feature_id, _NUMERIC, None, (), fallback, wire.numeric_response
        )
        if answer is not None:
            return answer
        response = self.plain.get_numeric_entitlement(
            customer_id, feature_id, resource_id=resource_id, fallback=fallback, timeout=timeout
        )
        self._follow(customer_id, resource_id)
        return answers.of_check(response)

    def get_metered_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        requested_usage: float | None = None,
        fallback: pb.MeteredEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> answers.Answer[pb.GetMeteredEntitlementResponse]:
        answer = self._decide(
            customer_id,
            resource_id,
            feature_id,
            _METERED,
            requested_usage,
            (),
            fallback,
            wire.metered_response,
        )
        if answer is not None:
            return answer
        response = self.plain.get_metered_entitlement(
            customer_id,
            feature_id,
            resource_id=resource_id,
            requested_usage=requested_usage,
            fallback=fallback,
            timeout=timeout,
        )
        self._follow(customer_id, resource_id)
        return answers.of_check(response)

    def get_enum_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        requested_values: Sequence[str] = (),
        fallback: pb.EnumEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> answers.Answer[pb.GetEnumEntitlementResponse]:
        answer = self._decide(
            customer_id, resource_id, feature_id, _ENUM, None, requested_values, fallback, wire.enum_response
        )
        if answer is not None:
            return answer
        response = self.plain.get_enum_entitlement(
            customer_id,
            feature_id,
            resource_id=resource_id,
            requested_values=requested_values,
            fallback=fallback,
            timeout=timeout,
        )
        self._follow(customer_id, resource_id)
        return answers.of_check(response)

    def get_entitlement(
        self, request: pb.GetEntitlementRequest, *, timeout: float | None = None
    ) -> answers.Answer[pb.GetEntitlementResponse]:
        answer = self._decide_request(request, wire.entitlement_response)
        if answer is not None:
            return answer
        response = self.plain.get_entitlement(request, timeout=timeout)
        self._follow(request.customer_id, request.resource_id)
        return answers.of_check(response)

    def get_entitlement_v2(
        self, request: pb.GetEntitlementV2Request, *, timeout: float | None = None
    ) -> answers.Answer[pb.GetEntitlementV2Response]:
        answer = self._decide_request(request, wire.entitlement_v2_response)
        if answer is not None:
            return answer
        response = self.plain.get_entitlement_v2(request, timeout=timeout)
        self._follow(request.customer_id, request.resource_id)
        return answers.of_v2(response)

    def get_entitlements(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> answers.Answer[pb.GetEntitlementsResponse]:
        answer = self._state(customer_id, resource_id, wire.entitlements_response)
        if answer is not None:
            return answer
        response = self.plain.get_entitlements(customer_id, resource_id=resource_id, timeout=timeout)
        self._follow(customer_id, resource_id)
        return answers.of_state(response)

    def get_entitlements_state_v2(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> answers.Answer[pb.GetEntitlementsStateV2Response]:
        answer = self._state(customer_id, resource_id, wire.entitlements_state_v2_response)
        if answer is not None:
            return answer
        response = self.plain.get_entitlements_state_v2(customer_id, resource_id=resource_id, timeout=timeout)
        self._follow(customer_id, resource_id)
        return answers.of_state(response)

    # -- writes and control ---------------------------------------------------------------------

    def _write(self, method: Any, request: Any, timeout: float | None) -> Any:
        stream_id = self.replica.stream_id
        metadata = () if stream_id is None else ((codec.STREAM_METADATA, stream_id),)
        response, call = method.with_call(
            request, timeout=self.timeout if timeout is None else timeout, metadata=metadata
        )
        return response, stream_id, _sequence_of(call.trailing_metadata())

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
        request = client.usage_request(customer_id, feature_id, value, resource_id, set_total)
        response, stream_id, sequence = self._write(self._stub.ReportUsage, request, timeout)
        self._own_writes([response], stream_id, sequence)
        result: pb.ReportUsageResponse = response
        return result

    def report_usage_bulk(
        self, usages: Sequence[pb.ReportUsageRequest], *, timeout: float | None = None
    ) -> pb.ReportUsageBulkResponse:
        request = client.usage_bulk_request(usages)
        response, stream_id, sequence = self._write(self._stub.ReportUsageBulk, request, timeout)
        self._own_writes(response.usages, stream_id, sequence)
        result: pb.ReportUsageBulkResponse = response
        return result

    def report_events(self, events: Sequence[pb.Event], *, timeout: float | None = None) -> empty_pb2.Empty:
        return self.plain.report_events(events, timeout=timeout)

    def reload_entitlements(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> pb.ReloadEntitlementsResponse:
        return self.plain.reload_entitlements(customer_id, resource_id=resource_id, timeout=timeout)


# -- the asyncio client -------------------------------------------------------------------------


class AsyncMirroredSidecarClient(_Mirroring):
    """``client.AsyncSidecarClient``'s methods, answered from an in-process replica when it can."""

    def __init__(
        self,
        target: str | None = None,
        *,
        timeout: float = client.DEFAULT_TIMEOUT,
        staleness: float = DEFAULT_STALENESS,
        max_customers: int = DEFAULT_MAX_CUSTOMERS,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self._channel = channel or grpc.aio.insecure_channel(target or client.default_target())
        self.plain = client.AsyncSidecarClient(channel=self._channel, timeout=timeout)
        self._stub = pb_grpc.SidecarServiceStub(self._channel)
        self._mirror = mpb_grpc.MirrorServiceStub(self._channel)
        self.replica = replica.Replica(staleness=staleness, max_customers=max_customers)
        self._requests: asyncio.Queue[mpb.FollowRequest | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def timeout(self) -> float:
        return self.plain.timeout

    async def __aenter__(self) -> AsyncMirroredSidecarClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._channel.close()

    # -- following ------------------------------------------------------------------------------

    def _follow(self, customer_id: str, resource_id: str | None) -> None:
        if not self.supported or self._closing:
            return
        key = _key(customer_id, resource_id)
        if not self.replica.want(key):
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
            return  # the new stream subscribes every key wanted
        if self._requests is not None:
            self._requests.put_nowait(_subscribe([key]))

    async def _run(self) -> None:
        backoff = BACKOFF_MIN
        while not self._closing:
            stream_id = uuid.uuid4().hex
            requests: asyncio.Queue[mpb.FollowRequest | None] = asyncio.Queue()
            self._requests = requests
            keys = self.replica.begin(stream_id)
            if keys:
                requests.put_nowait(_subscribe(keys))
            call = self._mirror.Follow(_drain(requests), metadata=((codec.STREAM_METADATA, stream_id),))
            try:
                async for message in call:
                    applied = self.replica.apply(message)
                    backoff = BACKOFF_MIN
                    if applied.gap:
                        break
                    if applied.forget:
                        requests.put_nowait(_unsubscribe(applied.forget))
                    if message.HasField("status") and message.sequence == 1:
                        self._heard(message.status)
            except grpc.aio.AioRpcError as error:
                if error.code() is grpc.StatusCode.UNIMPLEMENTED:
                    self.supported = False
                    self._unsupported()
                    return
                logger.debug("mirror: the stream ended: %s", error.code())
            except Exception:  # a reader that dies would leave the mirror silent: follow again
                logger.warning("mirror: the stream's reader failed; following again", exc_info=True)
            finally:
                call.cancel()
                self.replica.ended(stream_id)
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))  # noqa: S311 -- jitter
            backoff = min(backoff * 2, BACKOFF_MAX)

    # -- checks ---------------------------------------------------------------------------------

    async def get_boolean_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        fallback: bool | None = None,
        timeout: float | None = None,
    ) -> answers.Answer[pb.GetBooleanEntitlementResponse]:
        answer = self._decide(
            customer_id, resource_id, feature_id, _BOOLEAN, None, (), None, wire.boolean_response
        )
        if answer is not None:
            return answer
        response = await self.plain.get_boolean_entitlement(
            customer_id, feature_id, resource_id=resource_id, fallback=fallback, timeout=timeout
        )
        self._follow(customer_id, resource_id)
        return answers.of_check(response)

    async def get_numeric_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        fallback: pb.NumericEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> answers.Answer[pb.GetNumericEntitlementResponse]:
        answer = self._decide(
            customer_id, resource_id, feature_id, _NUMERIC, None, (), fallback, wire.numeric_response
        )
        if answer is not None:
            return answer
        response = await self.plain.get_numeric_entitlement(
            customer_id, feature_id, resource_id=resource_id, fallback=fallback, timeout=timeout
        )
        self._follow(customer_id, resource_id)
        return answers.of_check(response)

    async def get_metered_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        requested_usage: float | None = None,
        fallback: pb.MeteredEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> answers.Answer[pb.GetMeteredEntitlementResponse]:
        answer = self._decide(
            customer_id,
            resource_id,
            feature_id,
            _METERED,
            requested_usage,
            (),
            fallback,
            wire.metered_response,
        )
        if answer is not None:
            return answer
        response = await self.plain.get_metered_entitlement(
            customer_id,
            feature_id,
            resource_id=resource_id,
            requested_usage=requested_usage,
            fallback=fallback,
            timeout=timeout,
        )
        self._follow(customer_id, resource_id)
        return answers.of_check(response)

    async def get_enum_entitlement(
        self,
        customer_id: str,
        feature_id: str,
        *,
        resource_id: str | None = None,
        requested_values: Sequence[str] = (),
        fallback: pb.EnumEntitlementFallback | None = None,
        timeout: float | None = None,
    ) -> answers.Answer[pb.GetEnumEntitlementResponse]:
        answer = self._decide(
            customer_id, resource_id, feature_id, _ENUM, None, requested_values, fallback, wire.enum_response
        )
        if answer is not None:
            return answer
        response = await self.plain.get_enum_entitlement(
            customer_id,
            feature_id,
            resource_id=resource_id,
            requested_values=requested_values,
            fallback=fallback,
            timeout=timeout,
        )
        self._follow(customer_id, resource_id)
        return answers.of_check(response)

    async def get_entitlement(
        self, request: pb.GetEntitlementRequest, *, timeout: float | None = None
    ) -> answers.Answer[pb.GetEntitlementResponse]:
        answer = self._decide_request(request, wire.entitlement_response)
        if answer is not None:
            return answer
        response = await self.plain.get_entitlement(request, timeout=timeout)
        self._follow(request.customer_id, request.resource_id)
        return answers.of_check(response)

    async def get_entitlement_v2(
        self, request: pb.GetEntitlementV2Request, *, timeout: float | None = None
    ) -> answers.Answer[pb.GetEntitlementV2Response]:
        answer = self._decide_request(request, wire.entitlement_v2_response)
        if answer is not None:
            return answer
        response = await self.plain.get_entitlement_v2(request, timeout=timeout)
        self._follow(request.customer_id, request.resource_id)
        return answers.of_v2(response)

    async def get_entitlements(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> answers.Answer[pb.GetEntitlementsResponse]:
        answer = self._state(customer_id, resource_id, wire.entitlements_response)
        if answer is not None:
            return answer
        response = await self.plain.get_entitlements(customer_id, resource_id=resource_id, timeout=timeout)
        self._follow(customer_id, resource_id)
        return answers.of_state(response)

    async def get_entitlements_state_v2(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> answers.Answer[pb.GetEntitlementsStateV2Response]:
        answer = self._state(customer_id, resource_id, wire.entitlements_state_v2_response)
        if answer is not None:
            return answer
        response = await self.plain.get_entitlements_state_v2(
            customer_id, resource_id=resource_id, timeout=timeout
        )
        self._follow(customer_id, resource_id)
        return answers.of_state(response)

    # -- writes and control ---------------------------------------------------------------------

    async def _write(self, method: Any, request: Any, timeout: float | None) -> Any:
        stream_id = self.replica.stream_id
        metadata = () if stream_id is None else ((codec.STREAM_METADATA, stream_id),)
        call = method(request, timeout=self.timeout if timeout is None else timeout, metadata=metadata)
        response = await call
        return response, stream_id, _sequence_of(await call.trailing_metadata())

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
        request = client.usage_request(customer_id, feature_id, value, resource_id, set_total)
        response, stream_id, sequence = await self._write(self._stub.ReportUsage, request, timeout)
        self._own_writes([response], stream_id, sequence)
        result: pb.ReportUsageResponse = response
        return result

    async def report_usage_bulk(
        self, usages: Sequence[pb.ReportUsageRequest], *, timeout: float | None = None
    ) -> pb.ReportUsageBulkResponse:
        request = client.usage_bulk_request(usages)
        response, stream_id, sequence = await self._write(self._stub.ReportUsageBulk, request, timeout)
        self._own_writes(response.usages, stream_id, sequence)
        result: pb.ReportUsageBulkResponse = response
        return result

    async def report_events(
        self, events: Sequence[pb.Event], *, timeout: float | None = None
    ) -> empty_pb2.Empty:
        return await self.plain.report_events(events, timeout=timeout)

    async def reload_entitlements(
        self, customer_id: str, *, resource_id: str | None = None, timeout: float | None = None
    ) -> pb.ReloadEntitlementsResponse:
        return await self.plain.reload_entitlements(customer_id, resource_id=resource_id, timeout=timeout)


async def _drain(requests: asyncio.Queue[mpb.FollowRequest | None]) -> AsyncIterator[mpb.FollowRequest]:
    while (request := await requests.get()) is not None:
        yield request
