"""The vault's statements and transactions (``adapters/vault.py``): one transaction per sealing or
opening, joined when nested, opened lazily where a command may need none, and a per-command memory
of subjects and keys."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from typing import Any

from adapters.sql import one_statement, take_write_lock


class VaultTransactions:
    """Mixed into ``Vault``: needs ``recorder``, ``postgres``, ``prefix``, ``mark`` and ``_local``."""

    # -- SQL ----------------------------------------------------------------------------
    def atomic(self, write: bool = False):
        """Several vault calls in one transaction (``write``: taking SQLite's write lock first)."""
        return self._transaction(write=write)

    @contextmanager
    def _transaction(self, write: bool = False, lazy: bool = False):
        """One transaction for everything an event's sealing or opening needs (nested: joined).

        ``lazy``: opened by the first statement run inside the block; not at all when none is (every
        look-up answered from :meth:`remembering`)."""
        local = self._local
        if getattr(local, "cursor", None) is not None or getattr(local, "pending", None) is not None:
            yield
            return
        if not lazy:
            with self._open(write):
                yield
            return
        stack = ExitStack()
        local.pending = (stack, write)
        try:
            with stack:  # commits the transaction if a statement opened it (rolls it back on an error)
                yield
        finally:
            local.pending = None

    @contextmanager
    def _open(self, write: bool):
        with self.recorder.datastore.transaction(commit=True) as cursor:
            if not self.postgres:
                cursor.execute("PRAGMA secure_delete = ON")  # a destroyed key's bytes are zeroed, not left in free pages
                if write:
                    take_write_lock(cursor)
            self._local.cursor = cursor
            try:
                yield
            finally:
                self._local.cursor = None

    def _run(self, sql: str, params: tuple = (), columns: tuple[str, ...] = ()) -> list[dict]:
        sql = sql.replace("{p}", self.prefix).replace("?", self.mark)
        pending = getattr(self._local, "pending", None)
        if pending is not None and getattr(self._local, "cursor", None) is None:
            stack, write = pending
            stack.enter_context(self._open(write))
        with self._cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall() if columns else []
        return [dict(row) if self.postgres else dict(zip(columns, row)) for row in rows]

    @contextmanager
    def _cursor(self):
        """The cursor of the transaction under way; else, on PostgreSQL, one for this statement alone
        (its own transaction, one round trip: ``adapters.sql.one_statement``), on SQLite a transaction."""
        if self.postgres and getattr(self._local, "cursor", None) is None:
            with one_statement(self.recorder.datastore, True) as cursor:
                yield cursor
            return
        with self._transaction():
            yield self._local.cursor

    @contextmanager
    def remembering(self):
        """Within this block (this thread), a subject's id and the key of a (subject, case, retention
        day), once looked up or made, are not looked up again: a command that seals the same personal
        data twice — in its outbox envelope and in its event — reads the vault once, and the event's
        sealing needs no vault transaction of its own (bench/exchange.py, docs/performance.md).
        Keys are never changed, only destroyed: one destroyed between the two sealings leaves both
        parts under it (unreadable, as erased), where a second look-up would have sealed the second
        part under a fresh, readable key."""
        if getattr(self._local, "memo", None) is not None:
            yield
            return
        self._local.memo = {}
        try:
            yield
        finally:
            self._local.memo = None

    def _remembered(self, key: tuple, make: Callable[[], Any]) -> Any:
        memo = getattr(self._local, "memo", None)
        if memo is None:
            return make()
        if key not in memo:
            memo[key] = make()
        return memo[key]

    def _marks(self, n: int) -> str:
        return ", ".join(["?"] * n)

