from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.agreements import Agreements
from domain.directory import Directory
from domain.directory_terms import _add_months
from domain.errors import InvalidInput, NotPermitted

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_termination_takes_effect_after_the_profiles_notice_period():
    agreements = Agreements()
    directory = Directory(administration="NO", name="Norway")
    directory.record_agreement_period(profile=agreements.get("jp-no-2016"), in_force_from=None,
                                      termination_notified_on=date(2026, 11, 30), by="op", at=AT)
    directory.record_agreement_period(profile=agreements.get("nairobi-1977"), in_force_from=None,
                                      termination_notified_on=date(2026, 11, 30), by="op", at=AT)
    assert directory.period(agreements.get("jp-no-2016")).terminated_from == date(2027, 2, 28)
    assert directory.period(agreements.get("nairobi-1977")).terminated_from == date(2027, 5, 30)


def test_add_months_clamps_to_the_end_of_month():
    assert _add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert _add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)


def test_roles_are_checked():
    directory = Directory(administration="NO", name="Norway")
    with pytest.raises(InvalidInput):
        directory.designate_official(official_id="a", name="A", email="", roles=["king"], by="op", at=AT)
    directory.designate_official(official_id="a", name="A", email="", roles=["auditor"], by="op", at=AT)
    with pytest.raises(NotPermitted):
        directory.require_active("a", role="official")
    directory.revoke_official(official_id="a", reason="left", by="op", at=AT)
    with pytest.raises(NotPermitted):
        directory.require_active("a")


def test_a_node_cannot_register_itself_as_partner():
    directory = Directory(administration="NO", name="Norway")
    with pytest.raises(InvalidInput):
        directory.register_partner(administration="NO", name="x", agreements=["jp-no-2016"], endpoint=None,
                                   languages=[], by="op", at=AT)


def test_an_official_is_designated_with_a_name():
    directory = Directory(administration="NO", name="Norway")
    for blank in ("", "   "):
        with pytest.raises(InvalidInput, match="name is required"):
            directory.designate_official(official_id="x1", name=blank, email="", roles=["official"], by="op", at=AT)
    assert "x1" not in directory.officials


def test_keys_are_published_only_for_active_officials_holding_the_official_role():
    directory = Directory(administration="NO", name="Norway")
    directory.designate_official(official_id="op", name="Ola", email="", roles=["operator"], by="op", at=AT)
    directory.designate_official(official_id="a", name="A", email="", roles=["official"], by="op", at=AT)
    key = dict(use="sig", public_jwk={}, valid_from=AT, valid_until=AT.replace(year=2027), by="op", at=AT)
    with pytest.raises(NotPermitted, match="only to officials holding the official role"):
        directory.publish_key(kid="k1", owner="op", **key)
    directory.publish_key(kid="k2", owner="a", **key)
    directory.revoke_official(official_id="a", reason="left", by="op", at=AT)
    with pytest.raises(NotPermitted):
        directory.publish_key(kid="k3", owner="a", **key)
    assert list(directory.keys) == ["k2"]
