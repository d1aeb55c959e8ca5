"""The Helm chart's values table, generated from values.yaml's comments (``make chart-docs``).

``python -m stigg_devkit.chart_docs [CHART_DIR]`` rewrites the table between the markers
``<!-- values:start -->`` and ``<!-- values:end -->`` of the chart's README.md; a unit test
(tests/unit/charts) checks it is current, as the settings tables are (``make settings-docs``).

The convention is helm-docs': a key is documented by the comment block that starts with
``# --`` right above it (continued by the ``#`` lines that follow it); its default is the
value values.yaml gives it, its type the one values.schema.json declares. A documented mapping
is one row (its children need no comment of their own); every other value must be documented,
or ``UndocumentedValue`` names it.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

CHART = pathlib.Path(__file__).resolve().parents[2] / "charts" / "stigg-entitlements"
START = "<!-- values:start -->"
END = "<!-- values:end -->"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?:\s|$)")
_DOC = re.compile(r"^ *# -- ?(?P<text>.*)$")
_MORE = re.compile(r"^ *#(?: (?P<text>.*))?$")


class UndocumentedValue(ValueError):
    """A value of values.yaml without a ``# --`` comment (nor a documented parent)."""


@dataclasses.dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: Any
    description: str


def descriptions(values_yaml: str) -> dict[str, str]:
    """Each documented key's dotted path and its description, from the ``# --`` comments."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the mappings enclosing the line
    pending: list[str] | None = None
    for line in values_yaml.splitlines():
        doc = _DOC.match(line)
        if doc:
            pending = [doc.group("text").strip()]
            continue
        more = _MORE.match(line)
        if more:
            if pending is not None:
                pending.append((more.group("text") or "").strip())
            continue
        key = _KEY.match(line)
        if key is None:  # a list item, a block scalar's line, a blank line
            if not line.strip():
                pending = None
            continue
        indent = len(key.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key.group("key")))
        if pending is not None:
            found[".".join(k for _, k in stack)] = " ".join(t for t in pending if t)
            pending = None
    return found


def _leaves(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any, bool]]:
    """Every key's dotted path and value, and whether it is a non-empty mapping."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        nested = isinstance(value, dict) and bool(value)
        yield path, value, nested
        if nested:
            yield from _leaves(value, f"{path}.")


def _schema_type(schema: Mapping[str, Any], path: str) -> str | None:
    node: Mapping[str, Any] | None = schema
    for part in path.split("."):
        node = (node or {}).get("properties", {}).get(part)
    if not node:
        return None
    declared = node.get("type")
    if declared is None and "anyOf" in node:
        declared = [branch.get("type") for branch in node["anyOf"]]
    if isinstance(declared, list):
        return " or ".join(str(t) for t in declared)
    return str(declared) if declared else None


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null" if value is None else "string"


def rows(chart: pathlib.Path = CHART) -> list[Row]:
    """The table's rows, in values.yaml's order; ``UndocumentedValue`` if a value has no comment."""
    text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(text)
    schema = json.loads((chart / "values.schema.json").read_text())
    documented = descriptions(text)
    table: list[Row] = []
    covered: list[str] = []
    for path, value, nested in _leaves(values):
        if any(path.startswith(f"{parent}.") for parent in covered):
            continue
        if path in documented:
            covered.append(path)
            kind = _schema_type(schema, path) or _value_type(value)
            table.append(Row(path, kind, value, documented[path]))
        elif not nested:
            raise UndocumentedValue(f"{path}: no `# --` comment above it in values.yaml")
    unknown = sorted(set(documented) - {row.key for row in table})
    if unknown:
        raise UndocumentedValue(f"comments on keys not found as values: {', '.join(unknown)}")
    return table


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(chart: pathlib.Path = CHART) -> str:
    """The values table, as Markdown."""
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for row in rows(chart):
        default = json.dumps(row.default, separators=(",", ":"))
        lines.append(f"| `{row.key}` | {row.type} | `{_cell(default)}` | {_cell(row.description)} |")
    return "\n".join(lines)


def current_readme(chart: pathlib.Path = CHART) -> tuple[pathlib.Path, str, str]:
    """README.md's path, its text, and its text with the table regenerated."""
    readme = chart / "README.md"
    text = readme.read_text()
    head, found, rest = text.partition(START)
    _, closed, tail = rest.partition(END)
    if not found or not closed:
        raise ValueError(f"{readme}: the markers {START} and {END} are missing")
    return readme, text, f"{head}{START}\n{table(chart)}\n{END}{tail}"


def main(argv: list[str]) -> int:
    chart = pathlib.Path(argv[0]) if argv else CHART
    readme, text, updated = current_readme(chart)
    if updated != text:
        readme.write_text(updated)
        print(f"rewrote the values table in {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
