"""The case aggregate's transitions, without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.case import REQUESTED, REQUESTING, AssistanceCase, actor
from domain.errors import IllegalTransition, InvalidInput, NotPermitted

AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
BY = actor("NO", "no-hansen")


def opened(side: str = REQUESTED, event=AssistanceCase.RequestReceived, channel: str = "written",
           due: datetime | None = None) -> AssistanceCase:
    return AssistanceCase.open(
        event, case_id=uuid4(), agreement="jp-no-2016", own_administration="NO", partner_administration="JP",
        side=side, kind="information", language="en", reference="NO-2026-X", content={}, by=BY, at=AT,
        articles=["JP-NO Art. 3(1)"], channel=channel, confirmation_due_by=due,
    )


def test_a_received_request_is_acknowledged_once():
    case = opened()
    case.acknowledge(by=BY, at=AT, article="a")
    with pytest.raises(IllegalTransition):
        case.acknowledge(by=BY, at=AT, article="a")


def test_a_failed_command_records_no_event():
    case = opened()
    pending = len(case.collect_events())
    with pytest.raises(IllegalTransition):
        case.reply(by=BY, at=AT, articles=["a"], items=[], final=True, partial_reasons=None, conditions=[])
    assert case.collect_events() == [] and pending == 1


def test_refusal_needs_reasons_and_grounds():
    case = opened()
    with pytest.raises(InvalidInput):
        case.refuse(by=BY, at=AT, articles=["a"], grounds=["security"], reasons="")
    with pytest.raises(InvalidInput):
        case.refuse(by=BY, at=AT, articles=["a"], grounds=[], reasons="why")
    case.refuse(by=BY, at=AT, articles=["a"], grounds=["security"], reasons="why")
    assert case.status == "refused"


def test_forwarding_ends_the_requested_sides_work():
    case = opened()
    case.acknowledge(by=BY, at=AT, article="a")
    case.forward(by=BY, at=AT, article="a", authority="Police", reason="")
    with pytest.raises(IllegalTransition):
        case.postpone(by=BY, at=AT, articles=["a"], reasons="r", until=None)


def test_the_requesting_side_cannot_reply():
    case = opened(side=REQUESTING, event=AssistanceCase.AssistanceRequested)
    with pytest.raises(IllegalTransition):
        case.refuse(by=BY, at=AT, articles=["a"], grounds=["x"], reasons="r")


def test_an_oral_request_is_overdue_until_confirmed():
    case = opened(side=REQUESTING, event=AssistanceCase.OralRequestRecorded, channel="oral",
                  due=AT + timedelta(days=3))
    assert not case.confirmation_overdue(AT + timedelta(days=2))
    assert case.confirmation_overdue(AT + timedelta(days=4))
    case.confirm_in_writing(by=BY, at=AT + timedelta(days=5), article="a", reference="letter")
    assert not case.confirmation_overdue(AT + timedelta(days=6))


def test_the_requested_side_may_require_written_confirmation_of_an_oral_request():
    case = opened(channel="oral")
    assert case.confirmation_due_by is None
    case.require_written_confirmation(by=BY, at=AT, article="Nairobi Art. 7(4)", within_days=7)
    assert case.confirmation_due_by == AT + timedelta(days=7)


def test_only_the_owner_administration_acts():
    with pytest.raises(NotPermitted):
        opened().require_owner("SE")


def test_replay_rebuilds_the_same_state():
    case = opened()
    case.acknowledge(by=BY, at=AT, article="a")
    case.reply(by=BY, at=AT, articles=["a"], items=[{"item_id": "1"}], final=False, partial_reasons="part",
               conditions=["c"])
    events = case.collect_events()
    copy = None
    for e in events:
        copy = e.mutate(copy)
    assert (copy.status, copy.items, copy.partial, copy.conditions, copy.version) == \
        ("replying", [{"item_id": "1"}], True, ["c"], 3)
