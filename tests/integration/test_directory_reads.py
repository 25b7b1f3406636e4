"""One read of the directory per API request and per delivery, and no staler than that."""

from __future__ import annotations

import pytest

from domain.directory import directory_id
from service.exchange.directory import DirectoryService, one_directory_read
from tests.factories import client_for, configure, jp_no_request, make_node


@pytest.fixture
def node(store_url, tmp_path, clock):
    node = make_node(store_url, tmp_path, clock)
    yield node
    node.close()


def _count_directory_reads(node, monkeypatch) -> list[int]:
    reads = []
    events = node.store.events
    original = events.get

    def get(originator_id, *args, **kwargs):
        if originator_id == directory_id(node.settings.administration):
            reads.append(1)
        return original(originator_id, *args, **kwargs)

    monkeypatch.setattr(events, "get", get)
    newer = node.store.newer_events  # an authentication asks for the credential and the directory at once

    def newer_events(since):
        if directory_id(node.settings.administration) in since:
            reads.append(1)
        return newer(since)

    monkeypatch.setattr(node.store, "newer_events", newer_events)
    return reads


def test_a_block_reads_the_directory_once_and_sees_one_version(node, monkeypatch):
    configure(node)
    reads = _count_directory_reads(node, monkeypatch)
    # Another process (same store, its own service) designates an official meanwhile.
    elsewhere = DirectoryService(node.store, node.directory.agreements, node.directory.clock,
                                 node.settings.administration)
    with one_directory_read():
        first = node.directory.directory()
        assert len(reads) == 1
        elsewhere.designate_official(by="test", official_id="no-new", name="New", email="", roles=["official"])
        before = len(reads)  # the other service's own reads
        assert node.directory.directory() is first
        assert "no-new" not in node.directory.directory().officials
        assert len(reads) == before
    assert "no-new" in node.directory.directory().officials  # the next call reads the store again


def test_a_block_that_changes_the_directory_sees_its_change(node):
    configure(node)
    with one_directory_read():
        node.directory.directory()
        node.directory.designate_official(by="test", official_id="no-new", name="New", email="", roles=["official"])
        assert "no-new" in node.directory.directory().officials
        node.directory.revoke_official(by="test", official_id="no-new", reason="left")
        assert node.directory.directory().officials["no-new"]["active"] is False


def test_an_accepted_request_reads_the_directory_once(node, monkeypatch):
    who = configure(node)
    with client_for(node) as api:
        api.post("/cases", json=jp_no_request(), headers=who.official)  # warm: the snapshot exists
        reads = _count_directory_reads(node, monkeypatch)
        assert api.post("/cases", json=jp_no_request(), headers=who.official).status_code == 201
    assert len(reads) == 1  # authentication, treaty checks, addressees and sealing share it (was 5)


def test_a_revocation_holds_from_the_next_request(node):
    who = configure(node)
    with client_for(node) as api:
        assert api.post("/cases", json=jp_no_request(), headers=who.official).status_code == 201
        node.directory.revoke_official(by="test", official_id="no-hansen", reason="left the service")
        assert api.post("/cases", json=jp_no_request(), headers=who.official).status_code in (401, 403)


def test_a_known_credential_and_the_directory_are_asked_about_in_one_statement(node, monkeypatch):
    who = configure(node)
    with client_for(node) as api:
        api.get("/cases", headers=who.official)  # warm: this process has read the credential
        loads, asked = [], []
        load, newer = node.store.load, node.store.newer_events
        monkeypatch.setattr(node.store, "load", lambda *a, **k: loads.append(a[0]) or load(*a, **k))
        monkeypatch.setattr(node.store, "newer_events", lambda since: asked.append(set(since)) or newer(since))
        assert api.get("/cases", headers=who.official).status_code == 200
    credential = next(iter(node.directory._credentials))
    assert asked == [{credential, directory_id(node.settings.administration)}]
    assert credential not in loads  # not loaded again: only what is new since is read
