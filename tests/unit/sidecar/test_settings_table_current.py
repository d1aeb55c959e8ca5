"""The variables table in ``stigg_sidecar.settings``' docstring is generated from the fields'
declarations and is current (``make settings-docs`` rewrites it); every declared variable is
in it once, and a declared default is what an empty environment reads."""

from __future__ import annotations

import stigg_envspec
import stigg_envspec.__main__ as regenerate
from stigg_sidecar import settings


def test_the_docstring_table_is_the_generated_one() -> None:
    _, text, updated = regenerate.current_docstring_table("stigg_sidecar.settings", ["Settings"])
    assert text == updated, "run: make settings-docs"
    assert stigg_envspec.table([settings.Settings]) in (settings.__doc__ or "")


def test_each_variable_is_declared_once_and_defaults_read_back() -> None:
    names = [spec.name for _, spec in stigg_envspec.variables(settings.Settings)]
    assert len(names) == len(set(names)) == 50
    read = settings.Settings.from_env({"SERVER_API_KEY": "k"})
    for field, spec in stigg_envspec.variables(settings.Settings):
        if spec.name == "SERVER_API_KEY":
            continue
        assert getattr(read, field.name) == stigg_envspec.default(field), spec.name
