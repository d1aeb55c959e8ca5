"""The operator's settings: the docstring table is the generated one (``make settings-docs``),
an empty environment reads the declared defaults, and bad values name their variable."""

from __future__ import annotations

import datetime

import pytest

import stigg_envspec.__main__ as regenerate
from stigg_operator import model, settings


def test_the_docstring_table_is_the_generated_one() -> None:
    _, text, updated = regenerate.current_docstring_table("stigg_operator.settings", ["Settings"])
    assert text == updated, "run: make settings-docs"


def test_an_empty_environment_reads_the_declared_defaults() -> None:
    read = settings.Settings.from_env({})
    assert read == settings.Settings()
    assert (read.namespace, read.webhook_port, read.failure_policy) == ("stigg-system", 9443, "Fail")
    assert read.cert_validity == datetime.timedelta(hours=8760)
    assert read.sidecar_image == model.SIDECAR_IMAGE
    assert read.drift_interval_seconds == 60.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"STIGG_OPERATOR_WEBHOOK_PORT": "0"},
            "STIGG_OPERATOR_WEBHOOK_PORT: must be between 1 and 65535, got 0",
        ),
        ({"STIGG_OPERATOR_WEBHOOK_URL": "http://x"}, "STIGG_OPERATOR_WEBHOOK_URL: must start with https://"),
        (
            {"STIGG_OPERATOR_FAILURE_POLICY": "Maybe"},
            "STIGG_OPERATOR_FAILURE_POLICY: must be one of Fail, Ignore",
        ),
        (
            {"STIGG_OPERATOR_CERT_VALIDITY_HOURS": "-1"},
            "STIGG_OPERATOR_CERT_VALIDITY_HOURS: must be more than 0",
        ),
        (
            {"STIGG_OPERATOR_CERT_VALIDITY_HOURS": "10", "STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS": "20"},
            "STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS: must be less than the validity",
        ),
        (
            {"STIGG_OPERATOR_DRIFT_INTERVAL_SECONDS": "1.5"},
            "STIGG_OPERATOR_DRIFT_INTERVAL_SECONDS: must be an integer",
        ),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(settings.SettingsError) as raised:
        settings.Settings.from_env(env)
    assert str(raised.value).startswith(message)
