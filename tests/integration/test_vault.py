"""The personal-data vault on its own: identifiers, seals bound to their place, tombstones."""

from __future__ import annotations

import copy
import secrets
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from adapters.store import EventStore
from adapters.vault import is_sealed
from domain.personal_data import identifiers_of

TARGET = {"kind": "natural", "name": "Åse  Nyström", "date_of_birth": "1990-02-03",
          "identifiers": [{"scheme": "passport", "value": "se-55 443 322"}]}
AT = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
def vault(store_url):
    store = EventStore(store_url)
    vault = store.attach_vault(secrets.token_bytes(32), lambda agreement: 30)
    yield vault
    store.close()


def opening(target=TARGET) -> dict:
    return {"at": AT, "agreement": "jp-no-2016",
            "content": {"targets": [copy.deepcopy(target)], "reason": "Nyström smuggled antiques"},
            "items": [{"item_id": "a", "title": "t", "content": "c", "personal_data": False}]}


def test_identifiers_are_normalised_so_spelling_does_not_make_another_person():
    assert identifiers_of(TARGET) == ["id:passport:SE55443322", "name-born:ase nystrom|1990-02-03"]
    assert identifiers_of({"name": "ASE NYSTRÖM", "date_of_birth": "1990-02-03"})[0] == "name-born:ase nystrom|1990-02-03"
    assert identifiers_of({"name": "Nordlys Import AS"}) == ["name:nordlys import as"]


def test_parts_are_sealed_and_open_only_in_their_place(vault):
    case_id = uuid4()
    sealed = vault.seal_event("AssistanceRequested", case_id, 1, opening())
    target, reason = sealed["content"]["targets"][0], sealed["content"]["reason"]
    assert is_sealed(target) and is_sealed(reason)
    assert sealed["items"][0]["content"] == "c"  # not personal data: left as it is
    assert "Nyström" not in str(sealed) and "SE55443322" not in str(sealed)
    opened = vault.unseal_event("AssistanceRequested", case_id, 1, copy.deepcopy(sealed))
    assert opened["content"]["targets"][0]["name"] == "Åse  Nyström"
    # The same ciphertext under another version, case, or field does not open.
    for other_case, version in ((case_id, 2), (uuid4(), 1)):
        moved = vault.unseal_event("AssistanceRequested", other_case, version, copy.deepcopy(sealed))
        assert "does not open" in moved["content"]["reason"]
    swapped = copy.deepcopy(sealed)
    swapped["content"]["reason"], swapped["content"]["case_description"] = None, reason
    assert "does not open" in vault.unseal_event("AssistanceRequested", case_id, 1, swapped)["content"]["case_description"]


def test_sealing_leaves_the_event_it_was_given_as_it_was(vault):
    """The mapper seals a copy: the aggregate's state in memory keeps its plaintext."""
    event = opening()
    event["items"].append({"item_id": "b", "title": "t", "content": "Nyström's ledger", "personal_data": True})
    before = copy.deepcopy(event)
    sealed = vault.seal_event("AssistanceRequested", uuid4(), 1, event)
    assert is_sealed(sealed["content"]["targets"][0]) and is_sealed(sealed["items"][1]["content"])
    assert event == before
    assert sealed["items"][0] is event["items"][0]  # what holds no personal data is shared, not copied


def test_the_index_finds_a_subject_by_any_identifier_and_never_stores_one(vault):
    case_id = uuid4()
    vault.seal_event("AssistanceRequested", case_id, 1, opening())
    [subject] = vault.find_subjects({"identifiers": [{"scheme": "PASSPORT", "value": "SE55443322"}]})
    assert vault.find_subjects({"name": "ase nystrom", "date_of_birth": "1990-02-03"}) == [subject]
    assert vault.find_subjects({"name": "ase nystrom", "date_of_birth": "1990-02-04"}) == []
    assert vault.subject_cases(subject) == [str(case_id)]


def test_a_destroyed_key_leaves_a_tombstone_and_is_never_used_again(vault):
    case_id = uuid4()
    sealed = vault.seal_event("AssistanceRequested", case_id, 1, opening())
    [subject] = vault.find_subjects(TARGET)
    keys = [k["key_id"] for k in vault.keys(subject_id=subject)]
    assert vault.destroy(keys, "GDPR Art. 17", AT) == len(keys)
    assert vault.destroy(keys, "again", AT) == 0
    erased = []
    opened = vault.unseal_event("AssistanceRequested", case_id, 1, copy.deepcopy(sealed), erased)
    assert opened["content"]["targets"][0] == {"erased": "[erased on 2026-11-23 under GDPR Art. 17]"}
    assert len(erased) == 2
    again = vault.seal_event("PersonalDataRectified", case_id, 3, {"at": AT, "subject_id": subject,
                                                                   "value": copy.deepcopy(TARGET)})
    assert set(again["value"]["keys"]).isdisjoint(keys)
    assert vault.unseal_event("PersonalDataRectified", case_id, 3, again)["value"]["name"] == "Åse  Nyström"


def test_retention_days_pick_the_key_and_the_sweep_finds_only_the_expired(vault):
    case_id = uuid4()
    state = opening()
    state["items"] = [{"item_id": "short", "title": "t", "content": "c", "personal_data": True,
                       "restrictions": {"retention_days": 5}}]
    vault.seal_event("AssistanceRequested", case_id, 1, state)
    days = sorted(k["retain_until"] for k in vault.keys(case_id=str(case_id)))
    assert days == ["2026-11-28", "2026-12-23"]  # the item's 5 days; the default 30 for the rest
    assert [k["retain_until"] for k in vault.expired(datetime(2026, 11, 29).date())] == ["2026-11-28"]


def test_sealing_waits_its_turn_when_another_process_writes_sqlite(tmp_path):
    """A CLI command or a courier process writing the same SQLite file at the same time: sealing
    takes the write lock before it reads, so it waits instead of failing with "database is locked"."""
    import sqlite3
    import threading
    import time

    store = EventStore(f"sqlite:///{tmp_path / 'shared.db'}")
    vault = store.attach_vault(secrets.token_bytes(32), lambda agreement: 30)
    other = sqlite3.connect(tmp_path / "shared.db", isolation_level=None, timeout=10)
    other.execute("BEGIN")
    other.execute("INSERT INTO cmaa_pd_subjects (pseudonym, subject_id) VALUES ('elsewhere', 'x')")
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(vault.seal_event("AssistanceRequested", uuid4(), 1,
                                                                             opening())))
    worker.start()
    time.sleep(0.3)
    other.execute("COMMIT")  # the other writer commits while the sealing waits
    worker.join(timeout=15)
    assert outcome and is_sealed(outcome[0]["content"]["targets"][0])
    store.close()
