"""What the operator's ``/metrics`` says of this replica itself: ``stigg_operator_leader`` is 1
while it holds the Lease, and when another replica takes it the gauge drops to 0 and the
leader-only counts (resources, missing sidecars) disappear rather than go stale, until it leads
again; the certificate expiry is the notAfter of the certificate its webhook port presents."""

from __future__ import annotations

import datetime
import ssl

from cryptography import x509
from kubernetes import client

from tests.integration.operator import conftest, scraping

RESOURCES = "stigg_operator_resources"


def test_the_leader_gauge_and_the_leader_only_series_follow_the_lease(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    conftest.setup_namespace(api_client, namespace)  # its status written: this replica leads
    leading = scraping.until(
        operator,
        lambda s: s.value("stigg_operator_leader") == 1 and s.series(RESOURCES),
        "the leader's gauges",
    )
    holder = conftest.lease_holder(api_client)
    assert holder
    assert f"leading now, as {holder}" in operator.log(), "the Lease is this replica's"
    assert {(s["condition"], s["status"]) for s in leading.series(RESOURCES)} >= {
        ("Ready", "True"),
        ("Ready", "False"),
        ("Ready", "Unknown"),
    }

    with conftest.LeaseHolder(api_client):  # another replica takes the Lease over
        follower = scraping.until(
            operator,
            lambda s: s.value("stigg_operator_leader") == 0,
            "the operator to see it no longer leads",
        )
        assert follower.series(RESOURCES) == [], "a follower reports no stale counts"
        assert follower.series("stigg_operator_missing_sidecars") == []
        assert follower.value("stigg_operator_certificate_expiry_timestamp_seconds"), "every replica's own"

    scraping.until(  # the holder gone, its Lease expires in 3 s: this replica leads again
        operator,
        lambda s: s.value("stigg_operator_leader") == 1 and s.series(RESOURCES),
        "the operator to lead again and count the resources",
    )


def test_the_certificate_expiry_is_that_of_the_certificate_served(operator: conftest.Operator) -> None:
    served = x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", operator.port)).encode())
    expiry = scraping.scrape(operator).value("stigg_operator_certificate_expiry_timestamp_seconds")
    assert expiry == served.not_valid_after_utc.timestamp()
    assert expiry > datetime.datetime.now(datetime.UTC).timestamp()
