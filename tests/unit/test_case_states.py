"""The state table, as docs/case-states.md shows it, and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.case_states import (
    ACKNOWLEDGEMENT,
    OWN,
    PARTNER,
    REQUESTING,
    STATES,
    STEPS,
    TABLE,
    label,
    next_state,
)
from domain.errors import IllegalTransition

DOC = Path(__file__).parents[2] / "docs" / "case-states.md"


def table_markdown(side: str) -> str:
    steps = [s for s in STEPS if s in TABLE[side]]
    head = "| state \\ step | " + " | ".join(
        f"{label(s)} ({'API' if TABLE[side][s].by == OWN else 'envelope'})" for s in steps) + " |"
    rows = [head, "| --- |" + " --- |" * len(steps)]
    for state in STATES[side]:
        cells = [f"→ {TABLE[side][s].moves[state]}" if state in TABLE[side][s].moves else "refused" for s in steps]
        rows.append(f"| {state} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


@pytest.mark.parametrize("side", list(STATES))
def test_the_document_shows_the_table(side):
    assert f"### {side}\n\n{table_markdown(side)}\n" in DOC.read_text()


def test_a_second_acknowledgement_and_one_after_a_reply_are_refused():
    assert next_state(REQUESTING, "requested", ACKNOWLEDGEMENT, PARTNER) == "acknowledged"
    for status in ("acknowledged", "replying", "replied"):
        with pytest.raises(IllegalTransition, match=f"acknowledgement is not possible .* when the case is {status}"):
            next_state(REQUESTING, status, ACKNOWLEDGEMENT, PARTNER, "JP-NO Art. 12(1)")


def test_a_partners_step_is_not_made_by_this_nodes_officials():
    with pytest.raises(IllegalTransition, match="made by the partner"):
        next_state(REQUESTING, "requested", ACKNOWLEDGEMENT, OWN)
