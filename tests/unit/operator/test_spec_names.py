"""A resource's name must fit what is named after it: the ConfigMap's label (63, any mode) and, in
Standalone mode, ``<name>-stigg-sidecar`` as a Service name (a DNS-1035 label of at most 63);
else a ``SpecError`` naming metadata.name and the limit."""

from __future__ import annotations

import pytest

from stigg_operator import keys, model

STANDALONE = {"offline": True, "mode": "Standalone"}
SIDECAR = {"offline": True}


def _effective(name: str, spec: dict[str, object]) -> model.EffectiveConfig:
    return model.effective("shop", name, spec, model.OperatorDefaults())


def test_standalone_takes_names_of_at_most_49_characters() -> None:
    longest = "a" * (63 - len(keys.standalone_name("")))
    assert len(longest) == 49
    assert len(_effective(longest, STANDALONE).standalone_name) == 63
    with pytest.raises(model.SpecError) as raised:
        _effective(longest + "b", STANDALONE)
    message = str(raised.value)
    assert message.startswith("metadata.name: 50 characters make the Standalone objects' name")
    assert "over the 63 of a Service name" in message
    assert "at most 49 characters" in message


@pytest.mark.parametrize("name", ["1shop", "shop.eu"])
def test_standalone_needs_a_dns_1035_service_name(name: str) -> None:
    with pytest.raises(model.SpecError, match=r"^metadata\.name: .* not a DNS-1035 label"):
        _effective(name, STANDALONE)
    assert _effective(name, SIDECAR).name == name  # Sidecar mode makes no Service


def test_sidecar_mode_takes_names_up_to_a_label_value() -> None:
    assert _effective("a" * 63, SIDECAR).name == "a" * 63
    with pytest.raises(model.SpecError, match=r"^metadata\.name: 64 characters, more than the 63 of a label"):
        _effective("a" * 64, SIDECAR)
