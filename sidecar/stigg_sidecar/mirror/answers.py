"""What a mirrored client's reads return: the answer, and whether the mirror gave it.

``Answer[R]`` carries what a check is asked for (``has_access``, ``is_fallback``,
``denied_reason``), ``from_mirror``, and ``response``: the very ``stigg.sidecar.v1`` response
message the plain client returns (``R``). An answer from the mirror builds that message only
when ``response`` is first read (with the servicer's own builders, ``wire``), so a check that
reads ``has_access`` pays for no protobuf message at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from stigg_sidecar import model, semantics
from stigg_sidecar.v1 import sidecar_pb2 as pb

R = TypeVar("R")


class Answer(Generic[R]):
    """See the module docstring."""

    __slots__ = ("_args", "_build", "_response", "denied_reason", "from_mirror", "has_access", "is_fallback")

    def __init__(  # noqa: PLR0917 -- built on every in-process check: positional is cheapest
        self,
        has_access: bool,
        is_fallback: bool,
        denied_reason: model.DeniedReason | None,
        from_mirror: bool,
        response: R | None = None,
        build: Callable[..., R] | None = None,
        args: tuple[Any, ...] = (),
    ) -> None:
        self.has_access = has_access
        self.is_fallback = is_fallback
        self.denied_reason = denied_reason
        self.from_mirror = from_mirror
        self._response = response
        self._build = build
        self._args = args

    @property
    def response(self) -> R:
        """The ``stigg.sidecar.v1`` response message, as the sidecar would have sent it."""
        if self._response is None:
            assert self._build is not None  # noqa: S101 -- every answer has one or the other
            self._response = self._build(*self._args)
        return self._response

    def __repr__(self) -> str:
        source = "mirror" if self.from_mirror else "sidecar"
        return f"Answer(has_access={self.has_access}, is_fallback={self.is_fallback}, from {source})"


def _reason(message: Any) -> model.DeniedReason | None:
    if not message.HasField("access_denied_reason"):
        return None
    return model.DeniedReason(message.access_denied_reason)


def mirrored(decision: semantics.Decision, build: Callable[..., R], *args: Any) -> Answer[R]:
    """An answer decided in-process; ``build(*args)`` makes its response message on demand."""
    return Answer(decision.has_access, decision.is_fallback, decision.denied_reason, True, None, build, args)


def of_check(response: R) -> Answer[R]:
    """A typed check's answer from the sidecar (the fields are the response's own)."""
    message: Any = response
    return Answer(message.has_access, message.is_fallback, _reason(message), False, response)


def of_v2(response: pb.GetEntitlementV2Response) -> Answer[pb.GetEntitlementV2Response]:
    entitlement = response.entitlement
    return Answer(entitlement.has_access, entitlement.is_fallback, _reason(entitlement), False, response)


def of_state(response: R) -> Answer[R]:
    """A whole customer's answer from the sidecar: granted unless the customer is denied."""
    reason = _reason(response)
    return Answer(reason is None, False, reason, False, response)


def state_mirrored(state: model.EntitlementState, build: Callable[[model.EntitlementState], R]) -> Answer[R]:
    reason = state.denied_reason
    return Answer(reason is None, False, reason, True, None, build, (state,))
