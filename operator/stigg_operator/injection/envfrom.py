"""What a container's ``envFrom`` sets of the variables the injector adds (pure).

The patcher tells app containers where the sidecar is (``STIGG_SIDECAR_HOST``,
``STIGG_SIDECAR_PORT``) with ``env`` entries, and an ``env`` entry wins over ``envFrom``: added
blindly, it would silently replace a value the app sets through a ConfigMap or a Secret. So,
for each such variable a container does not set in ``env``, ``origin`` says what its
``envFrom`` sources (in order, the last one that sets a variable wins, as the kubelet does it,
a source's ``prefix`` prepended to each key) make of it:

* ``SET``: a ConfigMap whose data the webhook read defines it: the app's value is honoured,
  nothing is added (as for a variable it sets in ``env``);
* ``UNSET``: no source can define it (a prefix that cannot produce the name, a ConfigMap
  without that key, an ``optional`` ConfigMap that does not exist): the entry is added;
* ``UNKNOWN``: a source might, and the webhook cannot tell: a Secret (the operator has no right
  to read Secrets, by design), a ConfigMap that does not exist yet (the kubelet waits for it),
  or one it could not read in time. The entry is added, so the app can reach the sidecar in the
  common case (a Secret of credentials), and ``warning`` says which source might be overridden
  and how to keep one's own value (set it in ``env``).

``configmaps_to_read`` is the list of ConfigMaps worth reading for a Pod (only those whose
prefix could produce one of the names); the webhook reads them (``kube.configmaps.read_for_env``,
within a time budget) into ``Lookups``, and everything here works on what it found.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from stigg_operator import keys

NAMES: Final = (keys.APP_HOST_ENV, keys.APP_PORT_ENV)


@dataclasses.dataclass(frozen=True)
class Lookup:
    """What the webhook learned of one ConfigMap: its ``data``, or that it does not exist
    (``missing``), or neither (``data`` None, ``problem`` saying why it was not read)."""

    data: Mapping[str, str] | None = None
    missing: bool = False
    problem: str = "not read"


Lookups = Mapping[str, Lookup]  # ConfigMap name (in the Pod's namespace) → what was found


class Origin(enum.Enum):
    SET = "set"
    UNSET = "unset"
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """``origin`` of one variable in one container; ``sources`` are the envFrom sources that set
    it (``SET``) or might (``UNKNOWN``), in words ("Secret 'app-secrets'")."""

    origin: Origin
    sources: tuple[str, ...] = ()


def _ref(source: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
        ref = source.get(field)
        if isinstance(ref, Mapping):
            return kind, ref
    return None


def _key(name: str, prefix: object) -> str | None:
    """The key of a source with ``prefix`` that would produce the variable ``name``, or None."""
    prefix = prefix if isinstance(prefix, str) else ""
    return name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else None


def configmaps_to_read(containers: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ConfigMaps (in order, once each) whose data could define one of ``NAMES`` in one of
    ``containers``, for a variable the container does not set in ``env``."""
    wanted: list[str] = []
    for container in containers:
        in_env = {entry.get("name") for entry in container.get("env") or ()}
        for source in container.get("envFrom") or ():
            found = _ref(source)
            if found is None or found[0] != "ConfigMap":
                continue
            name = found[1].get("name")
            could = any(_key(n, source.get("prefix")) for n in NAMES if n not in in_env)
            if isinstance(name, str) and name and could and name not in wanted:
                wanted.append(name)
    return wanted


def origin(container: Mapping[str, Any], name: str, lookups: Lookups) -> Verdict:
    """What ``container``'s envFrom makes of the variable ``name`` (which its ``env`` does not set)."""
    setting: list[str] = []
    maybe: list[str] = []
    for source in container.get("envFrom") or ():
        key = _key(name, source.get("prefix"))
        found = _ref(source)
        if key is None or found is None:
            continue
        kind, ref = found
        source_name = ref.get("name")
        words = f"{kind} {source_name!r}"
        if kind == "Secret" or not isinstance(source_name, str):
            maybe.append(f"{words} (Secrets are not read)" if kind == "Secret" else words)
            continue
        lookup = lookups.get(source_name, Lookup())
        if lookup.data is not None:
            if key in lookup.data:
                setting.append(words)
        elif lookup.missing:
            if ref.get("optional") is not True:
                maybe.append(f"{words} (not found)")
        else:
            maybe.append(f"{words} ({lookup.problem})")
    if setting:
        return Verdict(Origin.SET, tuple(setting))
    if maybe:
        return Verdict(Origin.UNKNOWN, tuple(maybe))
    return Verdict(Origin.UNSET)


def warning(kind: str, container: str, added: Sequence[tuple[str, str]], sources: Sequence[str]) -> str:
    """The admission warning for env entries added although an envFrom source might set them:
    which container, which variables with which value, which sources, and what to do."""
    entries = ", ".join(f"{name}={value}" for name, value in added)
    sets = ("they set" if len(sources) > 1 else "it sets") + (" them" if len(added) > 1 else " it")
    return (
        f"{kind} {container!r}: injected env {entries} overrides envFrom {' and '.join(sources)} "
        f"if {sets}; to keep your value, set it in env"
    )
