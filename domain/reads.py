"""Reads of case data by auditors (and later the DPO) are themselves recorded.

One small aggregate per read, so that readers never contend with each other or
with the case; the DPO and auditors query them later (privacy statement:
activity logs).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event


class RecordRead(Aggregate):
    @staticmethod
    def create_id(**_: object) -> UUID:
        return uuid4()

    @event("RecordRead")
    def __init__(self, reader: dict, role: str, case_id: str, what: str, purpose: str, at: datetime):
        self.reader, self.role, self.case_id, self.what, self.purpose, self.at = reader, role, case_id, what, purpose, at
