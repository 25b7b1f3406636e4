"""The request policy, per agreement: same code, different profiles."""

from __future__ import annotations

from datetime import date

import pytest

from domain.agreements import AgreementPeriod, Agreements
from domain.errors import AgreementNotInForce, InvalidInput, TreatyRuleViolation
from domain.requests import RequestCheck, RequestContent, RequestIncomplete, check_request

AGREEMENTS = Agreements()
TODAY = date(2026, 11, 22)
FULL = RequestContent(
    action_requested="Verify the export declaration",
    reason="Suspected false origin",
    case_description="Steel imported as Swedish origin",
    laws_involved=("Customs Act s. 1",),
    targets=({"kind": "legal", "name": "Stål AB"},),
)


def check(agreement: str, requesting: str, requested: str, kind: str = "information", language: str = "en",
          content: RequestContent = FULL, period: AgreementPeriod | None = None, day: date = TODAY,
          extras: tuple[str, ...] = ()) -> str:
    profile = AGREEMENTS.get(agreement)
    return check_request(RequestCheck(profile, period or profile.default_period, kind, language, requesting,
                                      requested, content, day, extras))


def test_jp_no_information_request_in_english_passes_and_cites_art_3():
    assert check("jp-no-2016", "NO", "JP") == "JP-NO Art. 3(1)"


def test_jp_no_lawful_movement_check_cites_art_3_2():
    assert check("jp-no-2016", "JP", "NO", kind="lawful_movement_check") == "JP-NO Art. 3(2)"


def test_a_non_party_is_refused():
    with pytest.raises(AgreementNotInForce) as refused:
        check("jp-no-2016", "NO", "SE")
    assert refused.value.article == "JP-NO Art. 2(1)"


def test_nordic_sets_no_language_so_none_is_refused():
    """The Nordic text has no language rule (Art. 6(1) is about form); the node invents no refusal."""
    for language in ("sv", "en", "de"):
        assert check("nordic-1981", "NO", "SE", language=language) == "Nordic Art. 4"


def test_jp_no_still_refuses_a_language_its_text_does_not_allow():
    with pytest.raises(TreatyRuleViolation) as refused:
        check("jp-no-2016", "NO", "JP", language="de")
    assert refused.value.article.startswith("JP-NO Art. 11")


def test_nordic_requires_fewer_elements_than_jp_no():
    sparse = RequestContent(action_requested="Verify", case_description="Steel")
    assert check("nordic-1981", "NO", "SE", language="no", content=sparse)
    with pytest.raises(RequestIncomplete):
        check("jp-no-2016", "NO", "JP", content=sparse)


def test_nairobi_always_accepts_english_or_french_and_bilateral_extras():
    assert check("nairobi-1977", "NO", "FR", language="fr")
    with pytest.raises(TreatyRuleViolation) as refused:
        check("nairobi-1977", "NO", "FR", language="de")
    assert refused.value.article == "Nairobi Art. 7(2),(3)"
    assert check("nairobi-1977", "NO", "FR", language="de", extras=("de",))


def test_nairobi_kind_needs_the_annex_accepted_by_both_parties():
    assert check("nairobi-1977", "NO", "FR", kind="special_surveillance")
    with pytest.raises(TreatyRuleViolation) as refused:
        check("nairobi-1977", "NO", "KE", kind="special_surveillance")
    assert "Annex IV" in refused.value.article
    assert "KE" in refused.value.detail


def test_nairobi_excludes_recovery_of_claims():
    with pytest.raises(TreatyRuleViolation) as refused:
        check("nairobi-1977", "NO", "FR", kind="recovery_of_claim")
    assert refused.value.article == "Nairobi Art. 2(3)"


def test_nordic_service_of_documents_needs_a_summary_of_the_document():
    with pytest.raises(RequestIncomplete) as refused:
        check("nordic-1981", "NO", "DK", kind="service_of_documents", language="da")
    assert refused.value.article == "Nordic Art. 9(1)"
    served = RequestContent(**{**FULL.__dict__, "document_summary": "Decision on duty of NOK 40,000"})
    assert check("nordic-1981", "NO", "DK", kind="service_of_documents", language="da", content=served)


def claim(**overrides) -> RequestContent:
    recovery = {"amount": "25000.00", "currency": "NOK", "enforcement_title": "Decision 2026/17",
                "enforceable": True, "limitation_date": "2029-01-01", "not_recoverable_at_home": True}
    recovery.update(overrides)
    return RequestContent(**{**FULL.__dict__, "recovery": recovery})


def test_nordic_recovery_of_a_claim_passes_when_complete():
    assert check("nordic-1981", "NO", "SE", kind="recovery_of_claim", language="no", content=claim()) \
        == "Nordic Art. 10"


@pytest.mark.parametrize("overrides,article,field", [
    ({"amount": "100.00"}, "Nordic Art. 10(2)", "recovery.amount"),
    ({"amount": "1500"}, "Nordic Art. 10(2)", "recovery.amount"),  # equal is not "overstige" (exceed)
    ({"currency": "USD"}, "Nordic Art. 10(2)", "recovery.currency"),
    ({"not_recoverable_at_home": False}, "Nordic Art. 10(2)", "recovery.not_recoverable_at_home"),
    ({"enforceable": False}, "Nordic Art. 10(3)", "recovery.enforcement_title"),
    ({"enforcement_title": ""}, "Nordic Art. 10(3)", "recovery.enforcement_title"),
    ({"limitation_date": None}, "Nordic Art. 10(5)", "recovery.limitation_date"),
    ({"limitation_date": "2026-01-01"}, "Nordic Art. 10(5)", "recovery.limitation_date"),
])
def test_nordic_recovery_rules(overrides, article, field):
    with pytest.raises(TreatyRuleViolation) as refused:
        check("nordic-1981", "NO", "SE", kind="recovery_of_claim", language="no", content=claim(**overrides))
    assert refused.value.article == article
    assert refused.value.field == field


def test_recovery_without_the_claim_is_incomplete():
    with pytest.raises(RequestIncomplete) as refused:
        check("nordic-1981", "NO", "SE", kind="recovery_of_claim", language="no")
    assert refused.value.field == "recovery"


def test_an_unknown_kind_is_invalid_input():
    with pytest.raises(InvalidInput):
        check("jp-no-2016", "NO", "JP", kind="arrest")


def test_period_bounds_are_inclusive_of_start_and_exclusive_of_termination():
    period = AgreementPeriod(in_force_from=date(2020, 1, 1), terminated_from=date(2027, 1, 1))
    assert check("jp-no-2016", "NO", "JP", period=period, day=date(2020, 1, 1))
    assert check("jp-no-2016", "NO", "JP", period=period, day=date(2026, 12, 31))
    with pytest.raises(AgreementNotInForce):
        check("jp-no-2016", "NO", "JP", period=period, day=date(2027, 1, 1))
    with pytest.raises(AgreementNotInForce):
        check("jp-no-2016", "NO", "JP", period=period, day=date(2019, 12, 31))
