"""``python -m stigg_envspec MODULE:CLASS[,CLASS...]``: rewrite the variables table in the
module's docstring from its declarations (the block starting ``| variable |``)."""

from __future__ import annotations

import importlib
import pathlib
import sys

import stigg_envspec


def current_docstring_table(module_name: str, class_names: list[str]) -> tuple[pathlib.Path, str, str]:
    """The module's file, its text, and its text with the table regenerated."""
    module = importlib.import_module(module_name)
    source = pathlib.Path(module.__file__ or "")
    text = source.read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| variable |"))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    classes = [getattr(module, name) for name in class_names]
    updated = [*lines[:start], *stigg_envspec.table(classes).splitlines(), *lines[end:]]
    return source, text, "\n".join(updated) + "\n"


def main(argv: list[str]) -> int:
    for target in argv:
        module_name, _, names = target.partition(":")
        source, text, updated = current_docstring_table(module_name, names.split(","))
        if updated != text:
            source.write_text(updated)
            print(f"rewrote the table in {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
