"""One example body of each envelope kind, with who sends it (``docs/envelope-format.md`` §4).

``from`` is the sending administration in a JP–NO exchange where NO asked JP for assistance
(case ``main``, opened by NO) and NO offered JP spontaneous assistance (case ``spontaneous``).
"""

from __future__ import annotations

TARGET = {"kind": "legal", "name": "Nordlys Import AS", "nationality": "NO",
          "identifiers": [{"scheme": "company_registration", "value": "NO-987654321"}]}
RESTRICTIONS = {"purposes": ["customs_law_application"], "confidentiality": "confidential",
                "use_conditions": ["Customs use only"], "law_enforcement_onward": False, "retention_days": 1825}
ITEM = {"item_id": "item-1", "title": "Export declaration EX-2026-001", "content": "Declared value JPY 1,200,000",
        "personal_data": True, "restrictions": RESTRICTIONS}

KIND_EXAMPLES: dict[str, dict] = {
    "request": {"from": "NO", "body": {
        "kind": "information", "language": "en", "channel": "written",
        "content": {"action_requested": "Provide the export declarations for container MSCU1234567",
                    "reason": "Suspected undervaluation of electronics imported into Norway",
                    "case_description": "12 shipments declared 40% below market value",
                    "laws_involved": ["Norwegian Customs Act 2007 s. 16-1"], "targets": [TARGET]}}},
    "written_confirmation": {"from": "NO", "body": {"reference": "NO-ORAL-2026-0001"}},
    "acknowledgement": {"from": "JP", "body": {}},
    "forwarding": {"from": "JP", "body": {"authority": "Tokyo Regional Customs",
                                          "reason": "The declarations are held by the regional office"}},
    "reply": {"from": "JP", "body": {"items": [ITEM], "final": True, "partial_reasons": None, "conditions": []}},
    "refusal": {"from": "JP", "body": {"grounds": ["public_policy"],
                                       "reasons": "Disclosure would prejudice an ongoing prosecution"}},
    "postponement": {"from": "JP", "body": {"reasons": "The records are under seal until a court hearing",
                                            "until": "2027-02-01"}},
    "consultation": {"from": "JP", "body": {"subject": "extraordinary_costs",
                                            "message": "Retrieving the archived declarations needs a contractor"}},
    "spontaneous": {"from": "NO", "opened_by": "NO", "case": "spontaneous", "body": {
        "relevance": "Shipments to Japan declared far below market value", "case_description": "",
        "targets": [TARGET], "language": "en", "items": [ITEM]}},
    "consent_request": {"from": "NO", "body": {
        "consent_id": "consent-1", "items": ["item-1"], "action": "criminal_proceedings",
        "recipient_authority": "Oslo District Court", "purpose": "prosecution for customs fraud",
        "supporting_information": "Indictment filed 2026-11-01"}},
    "consent_grant": {"from": "JP", "body": {"consent_id": "consent-1", "conditions": ["Return after the trial"],
                                             "expires_on": "2027-11-22"}},
    "consent_denial": {"from": "JP", "body": {"consent_id": "consent-1",
                                              "reasons": "The information came from a confidential source"}},
    "restriction_notice": {"from": "JP", "body": {"item_id": "item-1", "restrictions": RESTRICTIONS}},
    "advance_notice": {"from": "NO", "body": {"notice_id": "notice-1", "items": ["item-1"],
                                              "recipient_authority": "Norwegian Tax Administration",
                                              "legal_provision": "Tax Administration Act s. 10-2"}},
    "disclosure_notice": {"from": "NO", "body": {
        "notice_id": "notice-2", "action": "disclosure", "items": ["item-1"], "purpose": "tax assessment",
        "basis": "legal_obligation", "recipient_authority": "Norwegian Tax Administration",
        "recipient_kind": "tax", "consent_id": None, "legal_provision": "Tax Administration Act s. 10-2",
        "advance_notice_id": "notice-1", "notice_impossible_reason": None}},
    "rectification_notice": {"from": "NO", "body": {"target_index": 0, "value": TARGET,
                                                    "reason": "Registration number corrected by the DPO"}},
}
