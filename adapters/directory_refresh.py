"""What the node knows about its partners' directories beyond the directory aggregate: the last refresh of each
partner's signed directory (a row per partner, overwritten: an operational status, not history; a directory
the refresh imports is a ``PartnerDirectoryImported`` event like a manual import), and which of our officials
a partner evidently does not know yet (read from the outbox)."""

from __future__ import annotations

import json

from adapters.exchange_tables import StoreTables

REFRESH_COLUMNS = ("partner", "attempted_at", "trigger", "outcome", "detail", "issued_at", "succeeded_at",
                   "refused_at", "refused_detail")
# Kept from the previous row when this attempt has none: the last success and the last refusal stay visible.
KEPT = ("issued_at", "succeeded_at", "refused_at", "refused_detail")
UNKNOWN_SENDER = '%"code": "unknown-sender"%'


class DirectoryRefreshRecords(StoreTables):
    """The ``cmaa_directory_refresh`` table, and a read of ``cmaa_outbox``, through the store's datastore."""

    def record(self, **row) -> None:
        """Upsert a partner's row; ``None`` in a kept column leaves the previous value."""
        values = tuple(row.get(c) for c in REFRESH_COLUMNS)
        kept = ", ".join(f"{c} = COALESCE(excluded.{c}, cmaa_directory_refresh.{c})" for c in KEPT)
        fresh = ", ".join(f"{c} = excluded.{c}" for c in REFRESH_COLUMNS[1:] if c not in KEPT)
        self._run(f"INSERT INTO {{p}}cmaa_directory_refresh ({', '.join(REFRESH_COLUMNS)}) VALUES "
                  f"({', '.join('?' * len(REFRESH_COLUMNS))}) ON CONFLICT (partner) DO UPDATE SET {fresh}, {kept}",
                  values)

    def all(self) -> dict[str, dict]:
        rows = self._run(f"SELECT {', '.join(REFRESH_COLUMNS)} FROM {{p}}cmaa_directory_refresh", fetch=True)
        return {row["partner"]: row for row in rows}

    def unknown_senders(self) -> dict[str, list[str]]:
        """Per partner, our officials whose latest envelope rejected ``unknown-sender`` by that partner has no
        envelope of theirs delivered to it made after it (docs/operator-guide.md)."""
        rows = self._run("SELECT partner, payload, created_at FROM {p}cmaa_outbox WHERE status = 'rejected' "
                         "AND rejection LIKE ?", (UNKNOWN_SENDER,), fetch=True)
        latest: dict[tuple[str, str], int] = {}
        for row in rows:
            official = json.loads(row["payload"]).get("from", {}).get("official")
            key = (row["partner"], official)
            if isinstance(official, str) and int(row["created_at"]) > latest.get(key, -1):
                latest[key] = int(row["created_at"])
        unknown: dict[str, list[str]] = {}
        for (partner, official), since in sorted(latest.items()):
            if not self._delivered_since(partner, official, since):
                unknown.setdefault(partner, []).append(official)
        return unknown

    def _delivered_since(self, partner: str, official: str, since: int) -> bool:
        # The payload is stored with sorted keys: its sender reads exactly so. LIKE's own '_' and '%' escaped.
        sender = json.dumps({"official": official})[1:-1].replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
        rows = self._run("SELECT envelope_id FROM {p}cmaa_outbox WHERE partner = ? AND status = 'delivered' "
                         "AND created_at > ? AND payload LIKE ? ESCAPE '\\' LIMIT 1",
                         (partner, since, f'%"from": {{"administration": "%", {sender}}}%'), fetch=True)
        return bool(rows)
