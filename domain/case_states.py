"""The states and sides of an assistance case, and the base of each side's rules.

A node holds one side of a case: it made the request (``requesting``), received it
(``requested``), gave information without a request (``providing``, JP-NO Art. 5) or
received such information (``receiving``). The status says where the case stands from
the holding node's point of view.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.domain import Aggregate, CommandMethodDecorator

from domain.errors import IllegalTransition, InvalidInput

REQUESTING = "requesting"
REQUESTED = "requested"
PROVIDING = "providing"
RECEIVING = "receiving"  # spontaneous assistance received from a partner

# Status of a case, from the holding node's point of view.
REQUESTED_STATUS = "requested"  # requesting side: request made, awaiting the partner
RECEIVED = "received"
ACKNOWLEDGED = "acknowledged"
FORWARDED = "forwarded"
POSTPONED = "postponed"
IN_CONSULTATION = "in_consultation"
REPLYING = "replying"  # interim reply or running special-surveillance reports
REPLIED = "replied"
REFUSED = "refused"
PROVIDED = "provided"  # spontaneous assistance given
INFORMATION_RECEIVED = "information_received"
CLOSED = "closed"

TERMINAL = frozenset({FORWARDED, REPLIED, REFUSED, CLOSED})


def actor(administration: str, official: str) -> dict[str, str]:
    return {"administration": administration, "official": official}


# -- the state machine: state x step -> next state, per side ----------------------------
# Each step is taken either by this node's officials (``OWN``: the API's commands) or by the
# partner (``PARTNER``: an envelope the inbox applies). Both consult this one table, before
# anything is stored; docs/case-states.md shows it.
ACKNOWLEDGEMENT = "acknowledgement"
FORWARDING = "forwarding"
INTERIM_REPLY = "interim_reply"
FINAL_REPLY = "final_reply"
REFUSAL = "refusal"
POSTPONEMENT = "postponement"
CONSULTATION = "consultation"
WRITTEN_CONFIRMATION = "written_confirmation"
CLOSURE = "closure"
STEPS = (ACKNOWLEDGEMENT, FORWARDING, INTERIM_REPLY, FINAL_REPLY, REFUSAL, POSTPONEMENT, CONSULTATION,
         WRITTEN_CONFIRMATION, CLOSURE)
OWN, PARTNER = "own", "partner"

STATES = {
    REQUESTED: (RECEIVED, ACKNOWLEDGED, POSTPONED, IN_CONSULTATION, REPLYING, REPLIED, REFUSED, FORWARDED, CLOSED),
    REQUESTING: (REQUESTED_STATUS, ACKNOWLEDGED, POSTPONED, IN_CONSULTATION, REPLYING, REPLIED, REFUSED, FORWARDED,
                 CLOSED),
    PROVIDING: (PROVIDED, CLOSED),
    RECEIVING: (INFORMATION_RECEIVED, CLOSED),
}
# A received request in one of these states has had neither a reply nor a refusal: it is not closed
# until the requester is sent one (JP-NO Art. 12(3), 14(5); Nordic Art. 8(2)).
UNANSWERED = frozenset({RECEIVED, ACKNOWLEDGED, POSTPONED, IN_CONSULTATION})


@dataclass(frozen=True)
class Step:
    by: str  # OWN or PARTNER
    moves: dict[str, str]  # state -> next state; every other state refuses the step


def _to(target: str, *states: str) -> dict[str, str]:
    return {state: target for state in states}


def _stay(*states: str) -> dict[str, str]:
    return {state: state for state in states}


_ANSWERABLE = (ACKNOWLEDGED, POSTPONED, IN_CONSULTATION, REPLYING)
_REQUESTED_SIDE = {
    ACKNOWLEDGEMENT: (_to(ACKNOWLEDGED, RECEIVED)),
    FORWARDING: _to(FORWARDED, ACKNOWLEDGED, POSTPONED),
    INTERIM_REPLY: _to(REPLYING, *_ANSWERABLE),
    FINAL_REPLY: _to(REPLIED, *_ANSWERABLE),
    REFUSAL: _to(REFUSED, RECEIVED, ACKNOWLEDGED, POSTPONED, IN_CONSULTATION),
    POSTPONEMENT: _to(POSTPONED, ACKNOWLEDGED, IN_CONSULTATION),
    CONSULTATION: _to(IN_CONSULTATION, ACKNOWLEDGED, POSTPONED, REPLYING),
}


def _as_heard_by_the_requester(moves: dict[str, str]) -> dict[str, str]:
    """The requested side's moves as the requester sees them: the same, and any first step is also
    taken while nothing was heard yet (``requested``): an acknowledgement may still be in transit."""
    return {**({REQUESTED_STATUS: next(iter(moves.values()))} if moves else {}),
            **{state: target for state, target in moves.items() if state != RECEIVED}}


TABLE: dict[str, dict[str, Step]] = {
    REQUESTED: {
        **{step: Step(OWN, moves) for step, moves in _REQUESTED_SIDE.items()},
        WRITTEN_CONFIRMATION: Step(PARTNER, _stay(*(s for s in STATES[REQUESTED] if s != CLOSED))),
        CLOSURE: Step(OWN, _to(CLOSED, REPLYING, REPLIED, REFUSED, FORWARDED)),
    },
    REQUESTING: {
        **{step: Step(PARTNER, _as_heard_by_the_requester(moves)) for step, moves in _REQUESTED_SIDE.items()},
        WRITTEN_CONFIRMATION: Step(OWN, _stay(*(s for s in STATES[REQUESTING] if s != CLOSED))),
        CLOSURE: Step(OWN, _to(CLOSED, *(s for s in STATES[REQUESTING] if s != CLOSED))),
    },
    PROVIDING: {CLOSURE: Step(OWN, _to(CLOSED, PROVIDED))},
    RECEIVING: {CLOSURE: Step(OWN, _to(CLOSED, INFORMATION_RECEIVED))},
}


def label(step: str) -> str:
    return step.replace("_", " ")


def _a(step: str) -> str:
    return f"{'an' if step[0] in 'aeiou' else 'a'} {label(step)}"


def next_state(side: str, status: str, step: str, by: str, article: str | None = None) -> str:
    """The state ``step`` moves a ``side`` case in ``status`` to, or IllegalTransition naming state and step."""
    rule = TABLE.get(side, {}).get(step)
    if rule is None:
        raise IllegalTransition(f"{_a(step)} is no step of the {side} side of a case", article=article)
    if rule.by != by:
        who = "the partner, by envelope" if rule.by == PARTNER else "this node's officials"
        raise IllegalTransition(f"on the {side} side {_a(step)} is made by {who}", article=article)
    if status not in rule.moves:
        allowed = ", ".join(s for s in STATES[side] if s in rule.moves) or "no state"
        raise IllegalTransition(f"{_a(step)} is not possible on the {side} side when the case is {status}; "
                                f"possible when it is {allowed}", article=article)
    return rule.moves[status]


class CaseRules:
    """Base of the mixins that hold one side's rules and the facts (``@event`` methods) they record.

    eventsourcing makes an event class only of the ``@event`` methods in an aggregate's own class
    body, and names it ``<module>:<Aggregate>.<Event>`` — the topic stored with every event. The
    aggregate composing these mixins therefore takes their ``@event`` methods into its own body
    when it is defined, so its events keep the topics existing stores hold
    (``domain.case:AssistanceCase.RequestAcknowledged``, ...).
    """

    def __init_subclass__(cls, **kwargs):
        if issubclass(cls, Aggregate):
            for mixin in cls.__mro__[1:]:
                if issubclass(mixin, CaseRules) and mixin is not CaseRules:
                    for name, value in vars(mixin).items():
                        if isinstance(value, CommandMethodDecorator) and name not in vars(cls):
                            setattr(cls, name, value)
        super().__init_subclass__(**kwargs)

    def _require_step(self, step: str, article: str | None, by: str = OWN) -> str:
        """The state machine (``TABLE``) allows ``step`` in the case's state; the state it leads to."""
        return next_state(self.side, self.status, step, by, article)


def require_text(value: str | None, field: str, article: str | None) -> None:
    if value is None or not str(value).strip():
        raise InvalidInput(f"{field} must not be empty", article=article, field=field)
