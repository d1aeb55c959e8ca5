"""Settings declared once: each field of a settings dataclass says its environment variable,
its meaning and how its text is read; ``read`` builds the object from an environment, and
``table`` renders the Markdown table that documents it (each settings module's docstring holds
that table, and a test checks it is current; ``python -m stigg_envspec`` rewrites it).

A field is declared with ``var``::

    grpc_port: int = var("GRPC_PORT", 80, "plaintext gRPC port", parse=integer(0, 65535))

An unset or blank variable takes the default; a set one goes through ``parse``, which returns
the value or raises ``ValueError`` with a message; ``read`` raises ``SettingsError`` starting
with the variable's name (``GRPC_PORT: must be an integer, got 'http'``). Cross-field rules
live in the dataclass's ``__post_init__``, raising ``SettingsError`` too. Secrets are declared
with ``secret=True``: kept out of ``repr``, never quoted in an error.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
Parser = Callable[[str], T]  # text → value, or ValueError with a message
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A variable is missing or invalid; the message starts with the variable's name."""


@dataclasses.dataclass(frozen=True)
class Var:
    """What a field's metadata holds: its variable, meaning, parser and how its default reads."""

    name: str
    doc: str
    parse: Callable[[str], Any]
    shown_default: str | None  # the table's default column, when the value itself says too little
    secret: bool


D = TypeVar("D", bound="DataclassInstance")


def var(
    name: str,
    default: Any,
    doc: str,
    *,
    parse: Callable[[str], Any] | None = None,
    shown: str | None = None,
    secret: bool = False,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """Declare a field read from ``name``: ``default`` (or ``factory()``) when unset, else
    ``parse(text)``; ``shown`` is the table's default column when the value says too little."""
    spec = Var(name, doc, parse or string, shown, secret)
    metadata = {"env": spec}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata, repr=not secret)
    return dataclasses.field(default=default, metadata=metadata, repr=not secret)


def variables(cls: type[DataclassInstance]) -> list[tuple[dataclasses.Field[Any], Var]]:
    return [(f, f.metadata["env"]) for f in dataclasses.fields(cls) if "env" in f.metadata]


def default(field: dataclasses.Field[Any]) -> Any:
    """A declared field's default value (its factory's, for a mutable one)."""
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default


_UNSET = object()


def _value(spec: Var, environ: Mapping[str, str]) -> Any:
    """The variable's parsed value, or ``_UNSET`` when it is unset or blank."""
    raw = environ.get(spec.name, "").strip()
    if not raw:
        return _UNSET
    try:
        return spec.parse(raw)
    except ValueError as error:
        raise SettingsError(f"{spec.name}: {error}") from None


def read(cls: type[D], environ: Mapping[str, str]) -> D:
    """Build ``cls`` from ``environ``; raise ``SettingsError`` naming the first bad variable."""
    values = {field.name: _value(spec, environ) for field, spec in variables(cls)}
    return cls(**{name: value for name, value in values.items() if value is not _UNSET})


def read_one(cls: type[DataclassInstance], field_name: str, environ: Mapping[str, str]) -> Any:
    """One declared field's value from ``environ`` (its default when unset), for a tool that
    needs one setting, not the whole object (whose cross-field rules it would not satisfy)."""
    for field, spec in variables(cls):
        if field.name == field_name:
            value = _value(spec, environ)
            return default(field) if value is _UNSET else value
    raise KeyError(field_name)


def _default_text(field: dataclasses.Field[Any], spec: Var) -> str:
    if spec.shown_default is not None:
        return spec.shown_default
    value = default(field)
    if value in (None, "") or value == {}:
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.timedelta):
        return f"{value.total_seconds() / 3600:g}"
    return str(value)


def table(classes: Iterable[type[DataclassInstance]]) -> str:
    """The Markdown table of every declared variable of ``classes``, in declaration order."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for cls in classes:
        rows += [f"| {spec.name} | {_default_text(f, spec)} | {spec.doc} |" for f, spec in variables(cls)]
    return "\n".join(rows)


# -- parsers: text → value, or ValueError with a message ------------------------------------------


def string(raw: str) -> str:
    return raw


def boolean(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def integer(low: int, high: int, *, zero: bool = True) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be an integer, got {raw!r}") from None
        if not low <= value <= high or (value == 0 and not zero):
            allowed = f"between {low} and {high}" + ("" if zero else ", not 0")
            raise ValueError(f"must be {allowed}, got {value}")
        return value

    return parse


def number(unit: str, high: float, *, zero: bool = False) -> Callable[[str], float]:
    """A positive number of ``unit`` (seconds, hours), at most ``high`` (``zero``: 0 allowed too)."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number of {unit}, got {raw!r}") from None
        if not (value >= 0 if zero else value > 0) or not value <= high:
            lowest = "at least 0" if zero else "more than 0"
            raise ValueError(f"must be {lowest} and at most {high:g} {unit}, got {raw}")
        return value

    return parse


def hours(high: float) -> Callable[[str], datetime.timedelta]:
    count = number("hours", high)
    return lambda raw: datetime.timedelta(hours=count(raw))


def url(schemes: Iterable[str]) -> Callable[[str], str]:
    allowed = sorted(schemes)

    def parse(raw: str) -> str:
        parsed = urllib.parse.urlsplit(raw)
        if parsed.scheme not in allowed or not parsed.netloc:
            starts = ", ".join(f"{s}://" for s in allowed)
            raise ValueError(f"must be an absolute URL starting with {starts}, got {raw!r}")
        return raw.rstrip("/")

    return parse


def choice(options: Mapping[str, T], *, fold_case: bool = False) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        key = raw.lower() if fold_case else raw
        if key not in options:
            listed = ", ".join(options)
            raise ValueError(f"must be one of {listed}, got {key!r}")
        return options[key]

    return parse


def path(raw: str) -> pathlib.Path:
    return pathlib.Path(raw)
