"""Per-Pod annotations override image, log level and resources; a bad one denies the Pod, naming it."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from stigg_operator import keys
from stigg_operator.injection import errors, grammar, overrides, patch
from tests.unit.operator.injection import pods


def test_overrides_replace_the_resource_values() -> None:
    pod = pods.pod_with_annotations(
        {
            keys.IMAGE_ANNOTATION: "localhost:5000/stigg-sidecar@sha256:" + "ab" * 32,
            keys.LOG_LEVEL_ANNOTATION: "WARN",
            keys.CPU_REQUEST_ANNOTATION: "250m",
            keys.MEMORY_LIMIT_ANNOTATION: "1Gi",
        }
    )
    sidecar = pods.sidecar_of(pods.inject(pod, pods.config(pods.full_spec())))

    assert sidecar["image"] == "localhost:5000/stigg-sidecar@sha256:" + "ab" * 32
    assert sidecar["imagePullPolicy"] == "Always", "the pull policy stays the resource's"
    assert pods.env_of(sidecar)["LOG_LEVEL"]["value"] == "warn"
    assert sidecar["resources"] == {
        "requests": {"cpu": "250m", "memory": "96Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def test_override_adds_a_limit_the_resource_lacks() -> None:
    pod = pods.pod_with_annotations({keys.CPU_LIMIT_ANNOTATION: "0.5"})

    assert pods.sidecar_of(pods.inject(pod, pods.config()))["resources"]["limits"] == {
        "cpu": "0.5",
        "memory": "256Mi",
    }


def test_no_annotations_no_overrides() -> None:
    assert overrides.from_annotations({"unrelated/annotation": "x"}) == overrides.Overrides()


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "ghcr.io/stigg-entitlements/sidecar:0.1.0",
        "registry.example.test:5000/team/sidecar:v1.2_rc-3",
        "Registry.Example.test/a/b/c",
        "localhost/sidecar@sha256:" + "0" * 64,
        "quay.io/org/side-car__x.y:tag@sha256:" + "f" * 64,
        "[::1]:5000/sidecar:1",
    ],
)
def test_plausible_images_are_accepted(image: str) -> None:
    assert overrides.from_annotations({keys.IMAGE_ANNOTATION: image}).image == image


@pytest.mark.parametrize(
    "image",
    [
        "",
        "nginx latest",
        "nginx\t",
        "Nginx",
        "ghcr.io/Org/sidecar",
        "-nginx",
        "nginx:",
        "nginx:-tag",
        "nginx:" + "t" * 129,
        "nginx@sha256:abc",
        "nginx@md5:" + "0" * 64,
        "registry:port/sidecar",
        "a//b",
        "nginx/",
        "https://ghcr.io/x",
    ],
)
def test_implausible_images_are_denied(image: str) -> None:
    with pytest.raises(errors.InjectionError, match=f"^annotation {re.escape(keys.IMAGE_ANNOTATION)}: "):
        pods.inject(pods.pod_with_annotations({keys.IMAGE_ANNOTATION: image}), pods.config())


def test_bad_log_level_is_denied_with_the_allowed_values() -> None:
    with pytest.raises(errors.InjectionError) as caught:
        patch.build(pods.pod_with_annotations({keys.LOG_LEVEL_ANNOTATION: "loud"}), pods.config())

    assert str(caught.value) == (
        "annotation sidecar.stigg.io/log-level: must be one of error, warn, info, debug, got 'loud'"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Fraction(1, 10)),
        ("0.5", Fraction(1, 2)),
        (".5", Fraction(1, 2)),
        ("1.", Fraction(1)),
        ("+2", Fraction(2)),
        ("128Mi", Fraction(128 * 2**20)),
        ("1Gi", Fraction(2**30)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("5e-1", Fraction(1, 2)),
        ("1k", Fraction(1000)),
        ("1E", Fraction(10**18)),
        ("2M", Fraction(2 * 10**6)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("250u", Fraction(1, 4000)),
        ("1n", Fraction(1, 10**9)),
        ("0.1n", Fraction(1, 10**9)),  # rounded up to a nano unit, like Kubernetes
        ("1e30", Fraction(2**63 - 1)),  # clamped, like Kubernetes
        ("-1", Fraction(-1)),
    ],
)
def test_quantities_parse_like_kubernetes(text: str, value: Fraction) -> None:
    assert grammar.parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1K",
        "1 ",
        " 1",
        "1.5.5",
        "1e",
        "1e1.5",
        "100mi",
        "1KI",
        "Mi",
        "1 core",
        "0x10",
        "1_000",
        ".",
        "1" * 65,
    ],
)
def test_malformed_quantities_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"quantity|characters|range"):
        grammar.parse_quantity(text)


@pytest.mark.parametrize(
    "annotation",
    [
        keys.CPU_REQUEST_ANNOTATION,
        keys.CPU_LIMIT_ANNOTATION,
        keys.MEMORY_REQUEST_ANNOTATION,
        keys.MEMORY_LIMIT_ANNOTATION,
    ],
)
@pytest.mark.parametrize("bad", ["lots", "1K", "-100m", "", "1e2000"])
def test_bad_quantity_annotation_is_denied_naming_it(annotation: str, bad: str) -> None:
    with pytest.raises(
        errors.InjectionError, match=f"^annotation {re.escape(annotation)}: .*{re.escape(repr(bad))}"
    ):
        patch.build(pods.pod_with_annotations({annotation: bad}), pods.config())


def test_request_above_limit_in_annotations_is_denied() -> None:
    pod = pods.pod_with_annotations({keys.CPU_REQUEST_ANNOTATION: "1500m", keys.CPU_LIMIT_ANNOTATION: "1"})

    with pytest.raises(
        errors.InjectionError, match=f"^annotation {re.escape(keys.CPU_REQUEST_ANNOTATION)}: 1500m is more"
    ):
        patch.build(pod, pods.config())


def test_equal_request_and_limit_in_other_units_is_accepted() -> None:
    pod = pods.pod_with_annotations(
        {keys.MEMORY_REQUEST_ANNOTATION: "1024Mi", keys.MEMORY_LIMIT_ANNOTATION: "1Gi"}
    )

    resources = pods.sidecar_of(pods.inject(pod, pods.config()))["resources"]
    assert (resources["requests"]["memory"], resources["limits"]["memory"]) == ("1024Mi", "1Gi")


def test_annotated_request_above_the_resource_limit_is_denied() -> None:
    pod = pods.pod_with_annotations({keys.MEMORY_REQUEST_ANNOTATION: "300Mi"})  # the default limit is 256Mi

    with pytest.raises(errors.InjectionError) as caught:
        patch.build(pod, pods.config())
    message = str(caught.value)
    assert message.startswith(
        f"annotation {keys.MEMORY_REQUEST_ANNOTATION}: 300Mi is more than the memory limit"
    )
    assert "spec.sidecar.resources.limits.memory" in message


def test_annotated_limit_below_the_resource_request_is_denied() -> None:
    pod = pods.pod_with_annotations({keys.CPU_LIMIT_ANNOTATION: "10m"})  # the default request is 50m

    with pytest.raises(errors.InjectionError) as caught:
        patch.build(pod, pods.config())
    message = str(caught.value)
    assert message.startswith(f"annotation {keys.CPU_LIMIT_ANNOTATION}: 10m is less than the cpu request 50m")
    assert "spec.sidecar.resources.requests.cpu" in message


def test_raising_the_limit_above_an_overridden_request_is_accepted() -> None:
    pod = pods.pod_with_annotations(
        {keys.MEMORY_REQUEST_ANNOTATION: "300Mi", keys.MEMORY_LIMIT_ANNOTATION: "300Mi"}
    )

    assert pods.sidecar_of(pods.inject(pod, pods.config()))["resources"]["limits"]["memory"] == "300Mi"


def test_first_bad_annotation_does_not_hide_behind_a_good_one() -> None:
    pod = pods.pod_with_annotations({keys.LOG_LEVEL_ANNOTATION: "info", keys.MEMORY_LIMIT_ANNOTATION: "big"})

    with pytest.raises(errors.InjectionError, match=re.escape(keys.MEMORY_LIMIT_ANNOTATION)):
        patch.build(pod, pods.config())


def test_overrides_alone_refuses_a_request_above_its_annotated_limit() -> None:
    with pytest.raises(errors.InjectionError, match=re.escape(keys.MEMORY_LIMIT_ANNOTATION)):
        overrides.from_annotations(
            {keys.MEMORY_REQUEST_ANNOTATION: "2Gi", keys.MEMORY_LIMIT_ANNOTATION: "1Gi"}
        )
    accepted = overrides.from_annotations(
        {keys.MEMORY_REQUEST_ANNOTATION: "1Gi", keys.MEMORY_LIMIT_ANNOTATION: "2Gi"}
    )
    assert (accepted.requests, accepted.limits) == ({"memory": "1Gi"}, {"memory": "2Gi"})


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("", "must not be empty"),
        ("ghcr.io/x/sidecar:1 ", "must not contain whitespace, got 'ghcr.io/x/sidecar:1 '"),
        ("ghcr.io/X/sidecar", "must be an image reference such as "),
    ],
)
def test_image_denial_says_what_is_wrong(image: str, problem: str) -> None:
    with pytest.raises(errors.InjectionError) as caught:
        overrides.from_annotations({keys.IMAGE_ANNOTATION: image})

    assert str(caught.value).startswith(f"annotation {keys.IMAGE_ANNOTATION}: {problem}")
