"""The API's bodies and answers about agreements: periods in force and deployment parameters."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field, model_validator

from service.http.schemas import Strict


class AgreementPeriodUpdate(Strict):
    """At least one of the two, given (``null`` included: it withdraws a termination notice not yet in effect):
    ``{}`` would record nothing asked for."""

    in_force_from: date | None = None
    termination_notified_on: date | None = None

    @model_validator(mode="after")
    def _something_to_record(self):
        if not self.model_fields_set:  # {"termination_notified_on": null} withdraws a notice: it is something
            raise ValueError("at least one of in_force_from and termination_notified_on is required")
        return self


class AgreementParameterUpdate(Strict):
    value: Any = Field(description="The parameter's value, in the shape of the profile's default: for "
                                   "``recovery.minimum`` a map of ISO 4217 codes to amounts, e.g. "
                                   "``{\"NOK\": \"2000\", \"SEK\": \"2000\"}``")


class AgreementPublic(BaseModel):
    id: str
    short: str
    title: str
    in_force_from: date
    terminated_from: date | None
    in_force_today: bool
    profile: dict[str, Any] = Field(description="The profile as this node applies it: the package's profile "
                                                "with the deployment parameters set here")
    parameters: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Deployment parameters "
                                                  "set on this node: name -> value, article, by, at")


class AgreementsPublic(BaseModel):
    data: list[AgreementPublic]
    count: int


# -- data protection (JP-NO Art. 9(2)) ------------------------------------------------------
