"""The DPO's queries at scale: a subject access report and an erasure over a store of 10^6 events.

Builds a store of ``--events`` events (cases of 10 events: a received request with
one natural-person target, its acknowledgement, a reply with a personal-data item,
seven delivery records), every personal part sealed through the node's vault as in
production; one subject in ten appears in three cases. Then, for ``--samples``
random subjects, times

* the access report (find the subject by identifiers in the keyed-hash index, its
  keys, its cases, open and list every part) — target < 200 ms;
* the erasure of the subject (PersonalDataErased per case, keys destroyed) — target < 100 ms;

next to a baseline measured in the same run: one plaintext-free scan of the whole
store for the same subject (decode every stored event, look for its key ids),
which is what the index saves.

    python bench/dpo.py [--events 1000000] [--samples 20] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.clock import FixedClock  # noqa: E402
from domain.case import REQUESTED, AssistanceCase, actor  # noqa: E402
from service.node import build_node, initialise  # noqa: E402
from service.principal import Principal  # noqa: E402
from service.settings import Settings  # noqa: E402

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EVENTS_PER_CASE = 10


def person(n: int) -> dict:
    return {"kind": "natural", "name": f"Person {n:07d}", "date_of_birth": f"19{50 + n % 50}-0{1 + n % 9}-1{n % 9}",
            "identifiers": [{"scheme": "passport", "value": f"P{n:08d}"}], "nationality": "JP"}


def build_case(subject: int, at: datetime) -> AssistanceCase:
    jp, no = actor("JP", "jp-tanaka"), actor("NO", "no-hansen")
    case = AssistanceCase.open(
        AssistanceCase.RequestReceived, case_id=uuid.uuid4(), agreement="jp-no-2016", own_administration="NO",
        partner_administration="JP", side=REQUESTED, kind="information", language="en",
        reference=f"JP-2026-{subject:07d}",
        content={"action_requested": "Provide the declarations", "reason": f"Traveller {subject} suspected",
                 "case_description": "Undeclared goods on three crossings", "laws_involved": ["Customs Act"],
                 "targets": [person(subject)]},
        addressed_to=["no-hansen"], by=jp, at=at, articles=["JP-NO Art. 11(2)"], channel="written")
    case.acknowledge(by=no, at=at, article="JP-NO Art. 12(1)")
    item = {"item_id": f"i-{subject}", "title": "Crossing record", "content": f"Crossings of person {subject}",
            "personal_data": True, "restrictions": {"retention_days": 1825, "purposes": ["customs"]}}
    case.reply(by=no, at=at, articles=["JP-NO Art. 12(1)"], items=[item], final=True, partial_reasons=None,
               conditions=[])
    for n in range(EVENTS_PER_CASE - 3):
        case.record_delivery(envelope_id=str(uuid.uuid4()), kind="reply", receipt="r" * 64,
                             envelope_sha256="0" * 64, at=at)
    return case


def fill(node, events: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    cases = events // EVENTS_PER_CASE
    subjects: list[int] = []
    batch, started = [], time.perf_counter()
    for n in range(cases):
        # One subject in ten comes back in two more cases.
        subject = rng.choice(subjects[-1000:]) if subjects and n % 20 in (1, 2) else n
        subjects.append(subject)
        batch.append(build_case(subject, NOW))
        if len(batch) == 100:
            node.store.save(*batch)
            batch.clear()
        if n and n % 10_000 == 0:
            rate = n * EVENTS_PER_CASE / (time.perf_counter() - started)
            print(f"  {n * EVENTS_PER_CASE:>9,} events stored ({rate:,.0f}/s)", file=sys.stderr)
    if batch:
        node.store.save(*batch)
    return subjects


def scan_baseline(node, subject_id: str) -> float:
    """One pass over every stored event, looking for the subject's key ids without the index."""
    keys = {k["key_id"] for k in node.vault.keys(subject_id=subject_id)}
    decode = node.store.mapper.transcoder.decode
    started, position, found = time.perf_counter(), 1, 0
    while True:
        batch = node.store.recorder.select_notifications(position, 10_000)
        if not batch:
            break
        for notification in batch:
            state = decode(notification.state)
            found += bool(keys & set(json.dumps(state, default=str).split('"')))
        position = batch[-1].id + 1
    assert found, "the baseline scan must find the subject"
    return (time.perf_counter() - started) * 1000


def run(url: str, events: int, samples: int, seed: int, workdir: Path) -> dict:
    clock = FixedClock(NOW)
    settings = Settings(data_dir=workdir / "data", database_url=url, administration="NO",
                        retention_sweep_seconds=0)
    node = build_node(settings, clock=clock)
    initialise(node)
    stored = node.store.recorder.max_notification_id() or 0
    if stored < events:
        print(f"building a store of {events:,} events at {url} ...", file=sys.stderr)
        subjects = fill(node, events - stored, seed)
    else:
        subjects = list(range(events // EVENTS_PER_CASE))
    stored = node.store.recorder.max_notification_id()
    node.designate_official(by="bench", official_id="dpo", name="DPO", roles=["dpo"]) \
        if "dpo" not in node.directory.directory().officials else None
    who = Principal("dpo", "NO", ("dpo",))
    rng = random.Random(seed + 1)
    picks = rng.sample(sorted(set(subjects)), samples * 2)
    reports, erasures, sizes = [], [], []
    for n in picks[:samples]:
        query = {"identifiers": [{"scheme": "passport", "value": f"P{n:08d}"}]}
        started = time.perf_counter()
        report = node.dpo.access_report(who, query, "bench")
        reports.append((time.perf_counter() - started) * 1000)
        sizes.append(sum(len(c["held"]) for c in report["cases"]))
    baseline = scan_baseline(node, node.vault.find_subjects(
        {"identifiers": [{"scheme": "passport", "value": f"P{picks[0]:08d}"}]})[0])
    for n in picks[samples:]:
        query = {"identifiers": [{"scheme": "passport", "value": f"P{n:08d}"}]}
        started = time.perf_counter()
        done = node.dpo.erase(who, query, "GDPR Art. 17 (bench)", "bench")
        erasures.append((time.perf_counter() - started) * 1000)
        assert done["keys_erased"] >= 1
    node.close()
    return {"url": url.split("?")[0], "events": stored, "samples": samples,
            "report_ms_p50": statistics.median(reports), "report_ms_max": max(reports),
            "parts_per_report": statistics.mean(sizes),
            "erase_ms_p50": statistics.median(erasures), "erase_ms_max": max(erasures),
            "baseline_full_scan_ms": baseline, "scan_over_report": baseline / statistics.median(reports)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--pg", help="also run on this PostgreSQL database (a fresh schema is used)")
    parser.add_argument("--keep", type=Path, help="keep the SQLite store here and reuse it on the next run")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        results.append(run(f"sqlite:///{workdir / 'dpo-bench.db'}", args.events, args.samples, args.seed, workdir))
        if args.pg:
            import psycopg

            schema = f"bench_dpo_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                results.append(run(f"{args.pg}?schema={schema}", args.events, args.samples, args.seed,
                                   Path(tmp) / "pg"))
            finally:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    for r in results:
        print(f"{r['url']}: {r['events']:,} events; access report p50 {r['report_ms_p50']:.1f} ms "
              f"(max {r['report_ms_max']:.1f}, {r['parts_per_report']:.1f} parts); erasure p50 "
              f"{r['erase_ms_p50']:.1f} ms (max {r['erase_ms_max']:.1f}); baseline full scan "
              f"{r['baseline_full_scan_ms']:,.0f} ms = {r['scan_over_report']:,.0f}x the report")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
