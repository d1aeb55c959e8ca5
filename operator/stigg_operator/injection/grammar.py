"""The value grammars the per-Pod annotations are checked against, as Kubernetes checks them.

Pure. ``parse_quantity`` reads Kubernetes' quantity grammar (k8s.io/apimachinery's
``resource.Quantity``) into an exact ``Fraction``, clamped and rounded as the apiserver does;
``quantity`` is the same for a value from a named source, with the problem as an
``InjectionError`` naming it (and refusing negatives). ``image_problem`` says what is wrong
with an image reference by distribution/reference's grammar
(``[domain[:port]/]path[:tag][@digest]``), or None.
"""

from __future__ import annotations

import fractions
import math
import re
from typing import Final

from stigg_operator.injection import errors

# distribution/reference's grammar: [domain[:port]/]path-component[/path-component...][:tag][@digest].
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?"
)
_IMAGE_MAX_LENGTH = 512  # a repository name is at most 255; tag and digest add at most 265

# Kubernetes' quantity grammar (k8s.io/apimachinery/pkg/api/resource):
#   <signedNumber> ( <binarySI> | <decimalExponent> | <decimalSI> ), the suffix "" included;
#   "1E" is exa, "1E3" is 1000; the exponent is an integer.
_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<binary>[KMGTPE]i)|[eE](?P<exponent>[+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))"
)
NOT_A_QUANTITY = "not a Kubernetes quantity"
_QUANTITY_MAX_LENGTH = 64
_MAX_EXPONENT = 1000  # Kubernetes takes int32 exponents and clamps; past this, refuse (cheaply)
_BINARY_SI: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SI: Final = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY_MAX = fractions.Fraction(2**63 - 1)  # Kubernetes clamps larger values to this
_NANO = 10**9  # and rounds finer values up to a nano unit


def parse_quantity(text: str) -> fractions.Fraction:
    """A Kubernetes quantity's exact value, as the apiserver reads it; ``ValueError`` if malformed.

    ``100m`` is 1/10, ``128Mi`` is 134217728, ``1e3`` and ``1k`` are 1000. Like Kubernetes,
    values beyond 2**63-1 are clamped and values finer than a nano unit round up (away from 0).
    """
    if len(text) > _QUANTITY_MAX_LENGTH:
        raise ValueError(f"longer than {_QUANTITY_MAX_LENGTH} characters")
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(NOT_A_QUANTITY)
    whole, _, fraction_digits = match["number"].partition(".")
    value = fractions.Fraction(
        int(whole or "0") * 10 ** len(fraction_digits) + int(fraction_digits or "0"),
        10 ** len(fraction_digits),
    )
    if match["binary"] is not None:
        value *= 2 ** _BINARY_SI[match["binary"]]
    else:
        exponent = int(match["exponent"]) if match["exponent"] is not None else _DECIMAL_SI[match["decimal"]]
        if abs(exponent) > _MAX_EXPONENT:
            raise ValueError("exponent out of range")
        value *= fractions.Fraction(10) ** exponent
    value = min(fractions.Fraction(math.ceil(value * _NANO), _NANO), _QUANTITY_MAX)
    return -value if match["sign"] == "-" else value


def quantity(raw: str, source: str) -> fractions.Fraction:
    """``raw`` (from ``source``, e.g. ``annotation sidecar.stigg.io/cpu-limit``) as a non-negative
    quantity; ``InjectionError`` naming the source if it is not one."""
    try:
        value = parse_quantity(raw)
    except ValueError as error:
        raise errors.InjectionError(
            f"{source}: must be a Kubernetes quantity such as 100m, 0.5, 128Mi or 1e3, got {raw!r}"
            + ("" if str(error) == NOT_A_QUANTITY else f" ({error})")
        ) from None
    if value < 0:
        raise errors.InjectionError(f"{source}: must not be negative, got {raw!r}")
    return value


def image_problem(image: str) -> str | None:
    """What is wrong with ``image`` as an image reference, or None if it is one."""
    if not image:
        return "must not be empty"
    if any(char.isspace() for char in image):
        return f"must not contain whitespace, got {image!r}"
    if len(image) > _IMAGE_MAX_LENGTH or not _IMAGE.fullmatch(image):
        return f"must be an image reference such as registry.example:5000/team/sidecar:1.2, got {image!r}"
    return None
