"""Credit entitlements through the SDK (GetEntitlementV2 by ``currency_id``, the ``credit``
member of ``EntitlementV2``, ``CreditEntitlement.has_soft_limit``, the currency's display
fields) are built separately; this is where their SDK tests go."""

from __future__ import annotations

import pytest


@pytest.mark.skip(reason="credit entitlements are built separately (issue 12); no SDK test for them yet")
def test_credit_entitlement_through_the_sdk() -> None:
    """Placeholder, so the gap shows in every run's summary."""
