"""What a directory records about the agreements themselves: the period each binds (JP-NO Art. 18,
19) and the deployment parameters a profile leaves to the parties (e.g. Nordic Art. 10(2)'s minimum
claim, which the guidelines under Art. 13 set): recorded as directory events with who and when,
never by editing package files.

A mixin of :class:`domain.directory.Directory`: its ``@event`` methods are copied onto the
aggregate, so the stored topics stay ``domain.directory:Directory.AgreementPeriodRecorded``.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from eventsourcing.domain import Aggregate, CommandMethodDecorator, event

from domain.agreements import AgreementPeriod, AgreementProfile
from domain.errors import IllegalTransition, InvalidInput, NotFound


class AgreementTerms:
    """The directory's record of each agreement's period and deployment parameters."""

    def __init_subclass__(cls, **kwargs):
        if issubclass(cls, Aggregate):
            for name, value in vars(AgreementTerms).items():
                if isinstance(value, CommandMethodDecorator) and name not in vars(cls):
                    setattr(cls, name, value)
        super().__init_subclass__(**kwargs)

    # -- the period an agreement binds (JP-NO Art. 18, 19) -------------------------
    def record_agreement_period(
        self,
        *,
        profile: AgreementProfile,
        in_force_from: date | None,
        termination_notified_on: date | None,
        by: str,
        at: datetime,
    ):
        in_effect = self.period(profile).terminated_from
        notified = self.periods.get(profile.id, {}).get("termination_notified_on")
        if in_effect is not None and at.date() >= in_effect and (
                termination_notified_on is None or termination_notified_on.isoformat() != notified):
            # JP-NO Art. 19(1): the termination took effect; a notice in effect is not withdrawn afterwards.
            raise IllegalTransition(
                f"the termination of {profile.short} took effect on {in_effect.isoformat()}; it can no longer be "
                "withdrawn or changed", article=profile.cite(profile.raw["termination"]["article"]),
                field="termination_notified_on")
        terminated_from = None
        if termination_notified_on is not None:
            terminated_from = _add_months(termination_notified_on, profile.termination_notice_months)
        start = in_force_from or self.period(profile).in_force_from
        self._agreement_period_recorded(
            agreement=profile.id,
            in_force_from=start.isoformat(),
            termination_notified_on=termination_notified_on.isoformat() if termination_notified_on else None,
            terminated_from=terminated_from.isoformat() if terminated_from else None,
            article=profile.cite(profile.raw["termination"]["article"]),
            by=by,
            at=at,
        )

    @event("AgreementPeriodRecorded")
    def _agreement_period_recorded(
        self,
        agreement: str,
        in_force_from: str,
        termination_notified_on: str | None,
        terminated_from: str | None,
        article: str,
        by: str,
        at: datetime,
    ):
        self.periods[agreement] = {
            "in_force_from": in_force_from,
            "termination_notified_on": termination_notified_on,
            "terminated_from": terminated_from,
        }

    def period(self, profile: AgreementProfile) -> AgreementPeriod:
        recorded = self.periods.get(profile.id)
        if recorded is None:
            return profile.default_period
        end = recorded["terminated_from"]
        return AgreementPeriod(
            in_force_from=date.fromisoformat(recorded["in_force_from"]),
            terminated_from=date.fromisoformat(end) if end else None,
        )

    # -- deployment parameters (e.g. Nordic Art. 10(2), 13) ----------------------------
    def set_agreement_parameter(self, *, profile: AgreementProfile, parameter: str, value: Any, by: str,
                                at: datetime):
        """Set a parameter the profile declares deployment data (``deployment_parameters``); the value
        must have the shape of the profile's default."""
        declared = profile.raw.get("deployment_parameters", {})
        if parameter not in declared:
            raise NotFound(f"{profile.short} has no deployment parameter {parameter}; it has "
                           f"{', '.join(sorted(declared)) or 'none'}", field="parameter")
        article = profile.cite(declared[parameter]["article"])
        value = _checked(parameter, profile.parameter(parameter), value, article)
        self._agreement_parameter_set(agreement=profile.id, parameter=parameter, value=value, article=article,
                                      by=by, at=at)

    @event("AgreementParameterSet")
    def _agreement_parameter_set(self, agreement: str, parameter: str, value: Any, article: str, by: str,
                                 at: datetime):
        parameters = self.__dict__.setdefault("parameters", {})  # directories created before parameters existed
        parameters.setdefault(agreement, {})[parameter] = {"value": value, "article": article, "by": by,
                                                           "at": at.isoformat()}

    def parameters_of(self, profile: AgreementProfile) -> dict[str, dict]:
        """The deployment parameters set for ``profile``: name -> value, article, by, at."""
        return dict(self.__dict__.get("parameters", {}).get(profile.id, {}))

    def terms(self, profile: AgreementProfile) -> AgreementProfile:
        """The profile with the deployment parameters this node set: what its rules apply."""
        values = {name: p["value"] for name, p in self.parameters_of(profile).items()}
        return profile.with_parameters(values) if values else profile



def _checked(parameter: str, default: Any, value: Any, article: str) -> Any:
    """``value`` in the shape of ``default``: amounts per currency (ISO 4217 codes, numbers above 0)."""
    if isinstance(default, dict) and all(isinstance(v, str) for v in default.values()):
        if not isinstance(value, dict) or not value:
            raise InvalidInput(f"{parameter} is a map of currency codes to amounts, e.g. {{\"NOK\": \"1500\"}}",
                               field="value", article=article)
        checked = {}
        for currency, amount in value.items():
            if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()):
                raise InvalidInput(f"{currency} is not an ISO 4217 currency code (three capital letters)",
                                   field=f"value.{currency}", article=article)
            try:
                number = Decimal(str(amount))
            except InvalidOperation:
                number = Decimal(-1)
            if not number.is_finite() or number <= 0:
                raise InvalidInput(f"the amount for {currency} must be a number above 0, not {amount}",
                                   field=f"value.{currency}", article=article)
            checked[currency] = format(number, "f")
        return checked
    raise InvalidInput(f"{parameter} cannot be set here", field="parameter", article=article)


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
