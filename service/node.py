"""The composition root: one node built from settings, nothing heavy at import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters import nodekeys
from adapters.clock import SystemClock
from adapters.store import EventStore
from domain.agreements import Agreements
from domain.errors import ConcurrentUpdate
from service.cases import CaseService
from service.directory import DirectoryService
from service.settings import Settings

FIRST_OPERATOR = "operator"


@dataclass
class Node:
    settings: Settings
    store: EventStore
    agreements: Agreements
    clock: Any
    directory: DirectoryService
    cases: CaseService
    keys: nodekeys.NodeKeys | None = None

    def close(self) -> None:
        self.store.close()


def build_node(settings: Settings, *, clock: Any = None, store: EventStore | None = None,
               load_keys: bool = True) -> Node:
    clock = clock or SystemClock()
    store = store or EventStore(settings.store_url)
    agreements = Agreements()
    directory = DirectoryService(store, agreements, clock, settings.administration)
    cases = CaseService(store, agreements, directory, clock)
    keys = None
    if load_keys:
        keys, _ = nodekeys.load_or_create(settings.keys_dir, settings.key_passphrase)
    return Node(settings, store, agreements, clock, directory, cases, keys)


def initialise(node: Node) -> str | None:
    """First run: create the directory and a first operator; return its token once.

    Later runs find the directory and return ``None``: the token is never shown again.
    Replicas starting together race here; the loser of the optimistic write sees
    the winner's directory and returns ``None``.
    """
    try:
        directory = node.directory.ensure(node.settings.administration_name)
        if FIRST_OPERATOR in directory.officials:
            return None
        node.directory.designate_official(by="first-run", official_id=FIRST_OPERATOR, name="First operator",
                                          email="", roles=["operator"])
    except ConcurrentUpdate:
        return None
    return node.directory.issue_credential(by="first-run", official_id=FIRST_OPERATOR)
