"""spec.sidecar.image must be an image reference (distribution/reference's grammar), else a
``SpecError`` naming spec.sidecar.image."""

from __future__ import annotations

import pytest

from stigg_operator import model

DIGEST = "sha256:" + "a" * 64


def _effective(image: str) -> model.EffectiveConfig:
    spec = {"offline": True, "sidecar": {"image": image}}
    return model.effective("shop", "shop", spec, model.OperatorDefaults())


@pytest.mark.parametrize(
    "image",
    [
        "Registry.Example/Team/Sidecar:1",  # uppercase path
        "ghcr.io/team/sidecar:",  # empty tag
        "ghcr.io/team/sidecar:-1",  # a tag starts with a word character
        "ghcr.io/team/sidecar:" + "t" * 129,  # a tag is at most 128 long
        "ghcr.io/team/sidecar@sha256:abc",  # a short digest
        "ghcr.io/team//sidecar",  # an empty path component
        "ghcr.io/team/sidecar_:1",  # a separator ends a component
        "http://ghcr.io/team/sidecar",  # a scheme
    ],
)
def test_a_bad_image_is_a_spec_error_naming_the_field(image: str) -> None:
    with pytest.raises(model.SpecError, match=r"^spec\.sidecar\.image: must be an image reference"):
        _effective(image)


@pytest.mark.parametrize(
    "image",
    [
        "sidecar",
        "team/sidecar:1.2",
        "ghcr.io/stigg-entitlements/sidecar:0.1.0",
        "localhost:5000/team/sidecar:latest",
        "registry.example:5000/a.b/c_d/e-f/g__h:v1.2-rc_3",
        f"ghcr.io/team/sidecar@{DIGEST}",
        f"ghcr.io/team/sidecar:1.2@{DIGEST}",
    ],
)
def test_an_image_reference_passes(image: str) -> None:
    assert _effective(image).sidecar.image == image


def test_the_operators_own_image_is_used_when_the_spec_names_none() -> None:
    config = model.effective("shop", "shop", {"offline": True}, model.OperatorDefaults())
    assert config.sidecar.image == model.SIDECAR_IMAGE
