"""The one error of the inbox: an inbound envelope refused at a numbered step, with nothing stored."""

from __future__ import annotations


class EnvelopeRejected(Exception):
    """An inbound envelope failed verification step ``step``; nothing was stored."""

    STATUS = {1: 400, 2: 403, 3: 400, 4: 400, 5: 403, 6: 403, 7: 400, 8: 403, 9: 403, 10: 403, 11: 409, 12: 409,
              13: 422, 14: 422, 15: 409}

    def __init__(self, step: int, code: str, reason: str, envelope_id: str | None = None, article: str | None = None):
        self.step, self.code, self.reason = step, code, reason
        self.envelope_id, self.article = envelope_id, article
        super().__init__(f"step {step} ({code}): {reason}")

    @property
    def status(self) -> int:
        return 409 if self.code == "concurrent-update" else self.STATUS.get(self.step, 400)
