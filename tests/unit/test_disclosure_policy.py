"""The disclosure policy per agreement: one function, three profiles, each rule with its article."""

from __future__ import annotations

from datetime import date

import pytest

from domain.agreements import Agreements
from domain.disclosure import DisclosureRefused, DisclosureRequest, check_disclosure, tighten
from domain.errors import InvalidInput

AGREEMENTS = Agreements()
TODAY = date(2026, 11, 22)


def item(item_id="i-1", purposes=("customs_law_application",), onward=True):
    return {"item_id": item_id, "restrictions": {"purposes": list(purposes), "law_enforcement_onward": onward,
                                                 "confidentiality": "confidential", "use_conditions": [],
                                                 "retention_days": 365}}


def consent(**overrides):
    base = {"items": ["i-1"], "action": "disclosure", "recipient_authority": "Oslo Police District",
            "purpose": "customs_law_application", "status": "granted", "expires_on": "2027-01-01"}
    return base | overrides


def check(agreement="jp-no-2016", items=None, consents=None, notices=None, **request):
    base = {"items": ("i-1",), "action": "disclosure", "purpose": "customs_law_application", "basis": "consent",
            "recipient_authority": "Oslo Police District", "consent_id": "c-1"}
    base.update(request)
    return check_disclosure(AGREEMENTS.get(agreement), items or {"i-1": item()}, consents or {}, notices or {},
                            DisclosureRequest(**base), TODAY)


def refused(**kwargs) -> DisclosureRefused:
    with pytest.raises(DisclosureRefused) as error:
        check(**kwargs)
    return error.value


# -- JP-NO Art. 7(2): consent to communicate to another authority -------------------------
def test_disclosure_with_a_matching_consent_is_allowed():
    assert check(consents={"c-1": consent()}) == ["JP-NO Art. 7(2)"]


def test_disclosure_without_consent_is_refused_citing_art_7_2():
    assert refused(consents={}).article == "JP-NO Art. 7(2)"


@pytest.mark.parametrize("overrides,detail", [
    ({"recipient_authority": "Tax Administration"}, "is for Tax Administration"),
    ({"items": ["i-2"]}, "does not cover item"),
    ({"purpose": "trade_facilitation"}, "for the purpose"),
    ({"expires_on": "2026-11-21"}, "expired"),
    ({"status": "denied"}, "denied"),
    ({"status": "requested"}, "requested"),
    ({"action": "criminal_proceedings"}, "covers criminal_proceedings"),
])
def test_a_consent_for_something_else_is_no_basis(overrides, detail):
    error = refused(consents={"c-1": consent(**overrides)})
    assert error.article == "JP-NO Art. 7(2)" and detail in error.detail


def test_a_disclosure_to_another_authority_within_purpose_still_needs_consent():
    assert refused(basis="within_purpose").article == "JP-NO Art. 7(2)"


# -- JP-NO Art. 7(3): national law-enforcement agencies unless notified otherwise -------------
def test_law_enforcement_path_without_consent():
    assert check(basis="law_enforcement", recipient_kind="law_enforcement") == ["JP-NO Art. 7(3)"]


def test_law_enforcement_path_after_the_provider_notified_otherwise():
    error = refused(basis="law_enforcement", recipient_kind="law_enforcement", items={"i-1": item(onward=False)})
    assert error.article == "JP-NO Art. 7(3)" and "notified" in error.detail


def test_law_enforcement_path_is_not_for_other_authorities():
    assert refused(basis="law_enforcement", recipient_kind="other_authority").field == "recipient_kind"


def test_law_enforcement_path_only_for_the_providers_purposes():
    error = refused(basis="law_enforcement", recipient_kind="law_enforcement", purpose="tax_audit")
    assert error.article == "JP-NO Art. 7(1)"


# -- JP-NO Art. 10(2): criminal proceedings ----------------------------------------------------
def test_criminal_proceedings_without_consent_is_refused_citing_art_10_2():
    error = refused(action="criminal_proceedings", basis="within_purpose")
    assert error.article == "JP-NO Art. 10(2)"


def test_criminal_proceedings_with_prior_written_consent():
    articles = check(action="criminal_proceedings",
                     consents={"c-1": consent(action="criminal_proceedings", recipient_authority=None)})
    assert "JP-NO Art. 10(2)" in articles


# -- JP-NO Art. 14(1): legally mandated disclosure with advance notice ------------------------
NOTICE = {"n-1": {"items": ["i-1"], "recipient_authority": "Oslo Police District"}}


def test_mandated_disclosure_without_advance_notice_is_refused_citing_art_14_1():
    error = refused(basis="legal_obligation", legal_provision="Straffeprosessloven s. 210")
    assert error.article == "JP-NO Art. 14(1)" and error.field == "advance_notice_id"


def test_mandated_disclosure_with_advance_notice():
    assert check(basis="legal_obligation", legal_provision="s. 210", advance_notice_id="n-1", notices=NOTICE) \
        == ["JP-NO Art. 14(1)"]


def test_mandated_disclosure_with_a_notice_for_another_recipient_is_refused():
    error = refused(basis="legal_obligation", legal_provision="s. 210", advance_notice_id="n-1",
                    notices=NOTICE, recipient_authority="Tax Administration")
    assert error.field == "advance_notice_id"


def test_mandated_disclosure_where_advance_notice_was_impossible_records_the_reason():
    assert check(basis="legal_obligation", legal_provision="s. 210",
                 notice_impossible_reason="Court order served with immediate effect") == ["JP-NO Art. 14(1)"]


def test_mandated_disclosure_names_the_provision():
    assert refused(basis="legal_obligation", advance_notice_id="n-1", notices=NOTICE).field == "legal_provision"


# -- other purposes -------------------------------------------------------------------------------
def test_use_within_the_providers_purposes_needs_nothing_more():
    assert check(action="other_purpose", basis="within_purpose") == ["JP-NO Art. 7(1)"]


def test_use_for_another_purpose_needs_consent():
    error = refused(action="other_purpose", basis="within_purpose", purpose="trade_facilitation")
    assert error.article == "JP-NO Art. 7(1)"


# -- the same code, other agreements ----------------------------------------------------------------
NORDIC_ITEM = {"i-1": item(purposes=("customs_law_application", "evidence"))}


def test_nordic_information_may_be_used_as_evidence_without_consent_art_7_1():
    assert check("nordic-1981", items=NORDIC_ITEM, action="criminal_proceedings", basis="within_purpose") \
        == ["Nordic Art. 7(1)"]


def test_nordic_evidence_use_needs_consent_when_the_provider_excluded_it():
    error = refused(agreement="nordic-1981", items={"i-1": item()}, action="criminal_proceedings",
                    basis="within_purpose")
    assert error.article == "Nordic Art. 7(2)"


def test_nordic_has_no_law_enforcement_path():
    error = refused(agreement="nordic-1981", basis="law_enforcement", recipient_kind="law_enforcement")
    assert error.article == "Nordic Art. 7(2)"


def test_nairobi_has_no_law_enforcement_path_other_purposes_need_consent():
    error = refused(agreement="nairobi-1977", items={"i-1": item(purposes=("prevention_investigation_repression",))},
                    basis="law_enforcement", recipient_kind="law_enforcement")
    assert error.article == "Nairobi Art. 5(2)"


def test_nairobi_judicial_proceedings_are_within_its_purposes():
    assert check("nairobi-1977", action="criminal_proceedings", basis="within_purpose") == ["Nairobi Art. 5(1)(a)"]


def test_nordic_and_nairobi_have_no_legal_obligation_exemption():
    assert refused(agreement="nordic-1981", basis="legal_obligation", legal_provision="x",
                   notice_impossible_reason="y").article == "Nordic Art. 7(3)"
    assert refused(agreement="nairobi-1977", basis="legal_obligation", legal_provision="x",
                   notice_impossible_reason="y").article == "Nairobi Art. 5(1)(b)"


def test_consent_is_a_basis_under_every_agreement():
    assert check("nordic-1981", consents={"c-1": consent()}) == ["Nordic Art. 7(2)"]
    assert check("nairobi-1977", consents={"c-1": consent()}) == ["Nairobi Art. 5(2)"]


def test_unknown_items_are_invalid_input():
    with pytest.raises(InvalidInput):
        check(items={"i-9": item("i-9")}, consents={"c-1": consent()})


# -- restriction notices only tighten (JP-NO Art. 8(2)) ----------------------------------------
CURRENT = item(purposes=("customs_law_application", "trade_facilitation"))["restrictions"]


def test_a_notice_narrows_purposes_closes_law_enforcement_and_adds_conditions():
    new = tighten(AGREEMENTS.get("jp-no-2016"), CURRENT, {"purposes": ["customs_law_application"],
                                                          "law_enforcement_onward": False,
                                                          "use_conditions": ["Summary only"], "retention_days": 90,
                                                          "confidentiality": "secret"}, "r")
    assert new["purposes"] == ["customs_law_application"] and new["law_enforcement_onward"] is False
    assert new["use_conditions"] == ["Summary only"] and new["retention_days"] == 90


@pytest.mark.parametrize("wanted", [
    {"purposes": ["customs_law_application", "supply_chain_security"]},
    {"retention_days": 1000},
    {"confidentiality": "restricted"},
])
def test_a_notice_cannot_loosen(wanted):
    with pytest.raises(InvalidInput):
        tighten(AGREEMENTS.get("jp-no-2016"), CURRENT, wanted, "r")


def test_a_notice_cannot_reopen_law_enforcement_use():
    closed = {**CURRENT, "law_enforcement_onward": False}
    with pytest.raises(InvalidInput):
        tighten(AGREEMENTS.get("jp-no-2016"), closed, {"law_enforcement_onward": True}, "r")


def test_a_consent_basis_without_a_consent_says_which_is_missing_not_none():
    error = refused(consent_id=None, consents={"c-1": consent()})
    assert "None" not in str(error) and "consent_id" in str(error) and error.field == "consent_id"
    assert "c-9" in str(refused(consent_id="c-9", consents={"c-1": consent()}))
