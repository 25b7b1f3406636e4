"""The states and sides of an assistance case, and the base of each side's rules.

A node holds one side of a case: it made the request (``requesting``), received it
(``requested``), gave information without a request (``providing``, JP-NO Art. 5) or
received such information (``receiving``). The status says where the case stands from
the holding node's point of view.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate, CommandMethodDecorator

from domain.errors import InvalidInput

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


def require_text(value: str | None, field: str, article: str | None) -> None:
    if value is None or not str(value).strip():
        raise InvalidInput(f"{field} must not be empty", article=article, field=field)
