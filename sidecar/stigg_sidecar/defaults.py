"""Static default values: what the sidecar answers when it knows nothing better.

Two sources, in Stigg's ``ENTITLEMENTS_FALLBACK`` format (a JSON object keyed by feature id,
each ``{"hasAccess": true, "usageLimit": 1000, "isUnlimited": false, "value": 5,
"enumValues": ["a"]}``) plus one key of ours, ``hasSoftLimit`` (a metered default whose limit
is soft: usage past ``usageLimit`` stays granted, and answers say ``has_soft_limit``):

* a **defaults directory** (the operator mounts the rendered ConfigMap there as a directory,
  never with ``subPath``, so kubelet's atomic ``..data`` swaps reach the running sidecar):
  every ``*.json``, ``*.yaml`` or ``*.yml`` file in it, merged in name order. ``DefaultsWatcher``
  polls it and swaps in a new table when it changes; a broken file keeps the last good table
  and is reported, so a bad edit never takes defaults away;
* the ``ENTITLEMENTS_FALLBACK`` environment variable, consulted after the directory.

Parsing is strict and names the offending path (``feature-01.usageLimit: must be a number``).
``FeatureDefault.decide`` turns a default (or a request's own fallback option, which has the
same fields) into a ``Decision`` marked as a fallback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import pathlib
from collections.abc import Mapping, Sequence

from stigg_sidecar import model, semantics

logger = logging.getLogger(__name__)

_FIELDS = {"hasAccess", "usageLimit", "isUnlimited", "hasSoftLimit", "value", "enumValues"}
_SUFFIXES = {".json", ".yaml", ".yml"}


class DefaultsError(ValueError):
    """A defaults document is invalid; the message names the path of the bad value."""


@dataclasses.dataclass(frozen=True, slots=True)
class FeatureDefault:
    has_access: bool
    usage_limit: float | None = None
    is_unlimited: bool = False
    value: int | None = None
    enum_values: tuple[str, ...] = ()
    has_soft_limit: bool = False

    def _infer_kind(self) -> model.CheckKind:
        if self.enum_values:
            return model.CheckKind.ENUM
        if self.value is not None:
            return model.CheckKind.NUMERIC
        if self.usage_limit is not None or self.is_unlimited or self.has_soft_limit:
            return model.CheckKind.METERED
        return model.CheckKind.BOOLEAN

    def entitlement(self, feature_id: str, kind: model.CheckKind) -> model.Entitlement:
        """The entitlement this default stands for, shaped as the getter ``kind`` expects."""
        kind = self._infer_kind() if kind is model.CheckKind.ANY else kind
        feature_type, meter = {
            model.CheckKind.BOOLEAN: (model.FeatureType.BOOLEAN, model.MeterType.NONE),
            model.CheckKind.NUMERIC: (model.FeatureType.NUMBER, model.MeterType.NONE),
            model.CheckKind.METERED: (model.FeatureType.NUMBER, model.MeterType.INCREMENTAL),
            model.CheckKind.ENUM: (model.FeatureType.ENUM, model.MeterType.NONE),
        }[kind]
        limit = self.value if kind is model.CheckKind.NUMERIC and self.value is not None else self.usage_limit
        return model.Entitlement(
            feature=model.Feature(feature_id, feature_type, meter),
            is_granted=self.has_access,
            denied_reason=None if self.has_access else model.DeniedReason.UNKNOWN,
            usage_limit=None if limit is None else float(limit),
            is_unlimited=self.is_unlimited,
            has_soft_limit=self.has_soft_limit and kind is model.CheckKind.METERED,
            enum_values=self.enum_values,
        )

    def credit(self, currency_id: str) -> model.CreditEntitlement:
        """The credit balance this default stands for, for a credit check of ``currency_id``
        (``usageLimit`` credits; unlimited or a soft limit never runs out)."""
        return model.CreditEntitlement(
            currency=model.Currency(currency_id),
            is_granted=self.has_access,
            denied_reason=None if self.has_access else model.DeniedReason.UNKNOWN,
            usage_limit=self.usage_limit or 0.0,
            has_soft_limit=self.has_soft_limit or self.is_unlimited,
        )

    def decide_credit(self, currency_id: str, requested: float | None = None) -> semantics.Decision:
        """Apply the credit rules to this default (credits consumed unknown, so taken as 0)."""
        return semantics.as_fallback(
            semantics.evaluate_credit_entitlement(self.credit(currency_id), requested)
        )

    def decide(
        self,
        feature_id: str,
        kind: model.CheckKind,
        requested_usage: float | None = None,
        requested_values: Sequence[str] = (),
    ) -> semantics.Decision:
        """Apply the usual rules to this default (current usage unknown, so taken as 0)."""
        entitlement = self.entitlement(feature_id, kind)
        decision = semantics.evaluate_entitlement(
            entitlement, model.CheckKind.ANY, requested_usage, requested_values
        )
        return semantics.as_fallback(decision)


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DefaultsError(f"{path}: must be a finite number, got {value!r}")
    if value < 0:
        raise DefaultsError(f"{path}: must not be negative, got {value!r}")
    return float(value)


def parse_feature(feature_id: str, raw: object, where: str = "") -> FeatureDefault:
    path = f"{where}{feature_id}"
    if not isinstance(raw, Mapping):
        raise DefaultsError(f"{path}: must be an object with hasAccess, usageLimit, ..., got {raw!r}")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise DefaultsError(f"{path}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    has_access = raw.get("hasAccess", True)
    if not isinstance(has_access, bool):
        raise DefaultsError(f"{path}.hasAccess: must be true or false, got {has_access!r}")
    is_unlimited = raw.get("isUnlimited", False)
    if not isinstance(is_unlimited, bool):
        raise DefaultsError(f"{path}.isUnlimited: must be true or false, got {is_unlimited!r}")
    has_soft_limit = raw.get("hasSoftLimit", False)
    if not isinstance(has_soft_limit, bool):
        raise DefaultsError(f"{path}.hasSoftLimit: must be true or false, got {has_soft_limit!r}")
    usage_limit = raw.get("usageLimit")
    value = raw.get("value")
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31
    ):
        raise DefaultsError(f"{path}.value: must be an integer between 0 and 2^31-1, got {value!r}")
    enum_values = raw.get("enumValues", [])
    if not isinstance(enum_values, list) or not all(isinstance(v, str) for v in enum_values):
        raise DefaultsError(f"{path}.enumValues: must be a list of strings, got {enum_values!r}")
    return FeatureDefault(
        has_access=has_access,
        usage_limit=None if usage_limit is None else _number(usage_limit, f"{path}.usageLimit"),
        is_unlimited=is_unlimited,
        value=value,
        enum_values=tuple(enum_values),
        has_soft_limit=has_soft_limit,
    )


def parse_table(document: object, where: str = "") -> dict[str, FeatureDefault]:
    """Parse one ``{feature id: default}`` document."""
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise DefaultsError(f"{where or 'document'}: must be an object keyed by feature id")
    return {
        str(feature_id): parse_feature(str(feature_id), raw, where) for feature_id, raw in document.items()
    }


def parse_env(text: str | None) -> dict[str, FeatureDefault]:
    """Parse ``ENTITLEMENTS_FALLBACK``; errors say ``ENTITLEMENTS_FALLBACK: <path>: <problem>``."""
    if not text or not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DefaultsError(f"not valid JSON: {error.msg} at character {error.pos}") from None
    return parse_table(document)


def _signature(directory: pathlib.Path) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for path in sorted(directory.iterdir()):
        if path.suffix in _SUFFIXES and not path.name.startswith("."):
            stat = path.stat()  # follows kubelet's ..data symlinks
            entries.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def load_directory(directory: pathlib.Path) -> dict[str, FeatureDefault]:
    """Merge every defaults file in ``directory`` (later file names win per feature)."""
    table: dict[str, FeatureDefault] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix not in _SUFFIXES or path.name.startswith("."):
            continue
        text = path.read_text()
        try:
            document = json.loads(text) if path.suffix == ".json" else _load_yaml(text)
        except ValueError as error:  # json.JSONDecodeError, or _load_yaml's
            raise DefaultsError(f"{path.name}: not valid {path.suffix[1:].upper()}: {error}") from None
        table.update(parse_table(document, where=f"{path.name}: "))
    return table


def _load_yaml(text: str) -> object:
    """``yaml.safe_load``, a ``YAMLError`` raised as ``ValueError``. PyYAML is imported only when a
    YAML file is read: the clients import this module (wire), and the operator renders
    ``defaults.json``, so most sidecars never need it either."""
    import yaml  # noqa: PLC0415

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from None


class Defaults:
    """The current table: the directory's entries first, then ``ENTITLEMENTS_FALLBACK``'s."""

    def __init__(self, env_table: Mapping[str, FeatureDefault], directory: pathlib.Path | None) -> None:
        self._env = dict(env_table)
        self.directory = directory
        self._from_directory: dict[str, FeatureDefault] = {}
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self.last_error: str | None = None
        self.loaded = directory is None

    def get(self, feature_id: str) -> FeatureDefault | None:
        found = self._from_directory.get(feature_id)
        return found if found is not None else self._env.get(feature_id)

    def __len__(self) -> int:
        return len(self._env.keys() | self._from_directory.keys())

    def items(self) -> list[tuple[str, FeatureDefault]]:
        """Every feature's effective default, by feature id."""
        return sorted({**self._env, **self._from_directory}.items())

    def refresh(self) -> bool:
        """Re-read the directory if it changed; True if the table was replaced."""
        if self.directory is None:
            return False
        try:
            signature = _signature(self.directory)
            if signature == self._signature:
                return False
            table = load_directory(self.directory)
        except (OSError, DefaultsError) as error:
            if str(error) != self.last_error:
                logger.error(
                    "defaults directory %s: %s (keeping the previous defaults)", self.directory, error
                )
            self.last_error = str(error)
            return False
        self._from_directory = table
        self._signature = signature
        self.last_error = None
        self.loaded = True
        logger.info("loaded %d default(s) from %s", len(table), self.directory)
        return True

    async def watch(self, interval: float) -> None:
        """Poll the directory every ``interval`` seconds until cancelled."""
        while True:
            try:
                self.refresh()
            except Exception:  # a bug must not stop the watcher; the next poll tries again
                logger.exception("reloading defaults from %s failed", self.directory)
            await asyncio.sleep(interval)
