"""Full exchanges between two node processes on this machine.

A full exchange: an official's request accepted by node NO -> sealed and
delivered over HTTP -> verified and applied by node JP -> JP's signed receipt
verified and stored by NO. Latency is measured per envelope from the outbox
(queued at the request's commit -> receipt stored), throughput over the whole
run. Baselines, same run: raw envelope seal+open (sign, encrypt, decrypt,
verify) per second in one process; and the skeleton of a full exchange on the
fixed stack with none of the node's own work (``bench/floor.py``), the ceiling
this stack allows on this machine with one request per envelope, measured on the
same back end as the node runs (the eventsourcing library's own SQLite or
PostgreSQL recorder): each back end's ratios are to its own skeleton.

    python bench/exchange.py [--n 1000] [--rate R] [--backend sqlite|postgres|both] [--workers 1,2]
                             [--latency-workers 1] [--repeat K] [--courier process|thread|external]
                             [--synchronous full|normal] [--profile DIR [--wall]] [--no-floor] [--dump DIR]

For each backend: its skeleton, a max-load run per worker count of ``--workers`` (CMAA_API_WORKERS on both
nodes; ``none``: no max-load run), then a latency run at half the skeleton's max rate (``--rate`` wins; 100/s with
``--no-floor``) per count of ``--latency-workers``. After each result, issue 20's targets and
whether this run meets them (printed, never asserted). Each run after the first comes right
after a skeleton run of its own: a max-load run's ratio is to that one, a latency run offers half
that one's rate (the machine's speed drifts within minutes); ``--repeat K`` runs each K times so
and prints the median ratio and the median p99.

It also prints the CPU milliseconds spent per exchange (Linux /proc): with one worker per
process (sender, its courier child, receiver), with several per node (each node's process
tree: `cmaa serve`, its workers and their courier children).
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stores import cpu_seconds, drop_schemas, postgres_cpu_seconds, store_urls  # noqa: E402
from tests.factories import jp_no_request  # noqa: E402
from tests.servers import children, tree, two_administrations  # noqa: E402

# Issue 20's targets: (ratio to the skeleton's rate at max load, p99 ms at half the skeleton's rate)
TARGETS = {"sqlite": (0.8, 50.0), "postgres": (0.6, 100.0)}



def baseline(seconds: float = 3.0) -> float:
    from joserfc.jwk import OKPKey

    from adapters import jose

    sig = OKPKey.generate_key("Ed25519", parameters={"kid": "s"})
    enc = OKPKey.generate_key("X25519", parameters={"kid": "e"})
    payload = {"body": jp_no_request(), "pad": "x" * 2500}
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sealed = jose.encrypt(jose.sign(payload, sig, jose.ENVELOPE_JWS_TYP), {"e": enc.as_dict(private=False)})
        inner = jose.decrypt(sealed, "e", enc)
        jose.verify(inner, lambda kid: sig, jose.ENVELOPE_JWS_TYP)
        n += 1
    return n / (time.perf_counter() - start)


def delivered_rows(url: str) -> list[dict]:
    from adapters.store import EventStore

    store = EventStore(url)
    try:
        return store.exchange._select("", ())
    finally:
        store.close()


def received_at(url: str) -> dict[str, int]:
    """When the partner stored each envelope (its inbox row, ms): a full exchange's latency splits there."""
    from adapters.store import EventStore

    store = EventStore(url)
    try:
        rows = store.exchange._run("SELECT envelope_id, received_at FROM {p}cmaa_inbox", fetch=True)
        return {row["envelope_id"]: int(row["received_at"]) for row in rows}
    finally:
        store.close()


def p50_p99(values: list[float]) -> list[float]:
    return [statistics.median(values), statistics.quantiles(values, n=100)[98]] if len(values) > 1 else []


def tree_cpu_seconds(pids: list[int]) -> dict[int, float]:
    """:func:`cpu_seconds` of each of ``pids`` still running."""
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return found


def submit(base: str, headers: dict, n: int, rate: float | None, threads: int = 4) -> float:
    """Post ``n`` requests, at ``rate`` per second if given, else as fast as ``threads`` clients go."""
    body = jp_no_request()
    counter = iter(range(n))
    lock = threading.Lock()
    # The clients exist before the clock starts: creating one builds an SSL context (~10 CPU ms),
    # and four at once took CPU from the nodes in the first second of a rated run.
    clients = [httpx.Client(base_url=base, headers=headers, timeout=30) for _ in range(threads)]
    start = time.perf_counter()

    def worker(client: httpx.Client):
        with client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                if rate:
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                client.post("/cases", json=body).raise_for_status()

    pool = [threading.Thread(target=worker, args=(client,)) for client in clients]
    [t.start() for t in pool]
    [t.join() for t in pool]
    return time.perf_counter() - start


def run(backend: str, n: int, rate: float | None, tmp: Path, courier: str = "process",
        profile: str | None = None, wall: bool = False, synchronous: str = "full",
        node_env: dict[str, str] | None = None, workers: int = 1) -> dict:
    query = "" if synchronous == "full" else f"?synchronous={synchronous}"
    (url_no, url_jp), schemas = store_urls(backend, tmp, ["no", "jp"], query)
    # One official drives the whole load: lift the per-official and per-partner limits.
    no, jp, token, _ = two_administrations(tmp, url_no, url_jp, CMAA_COURIER_INTERVAL_SECONDS="0.05",
                                           CMAA_LOG_LEVEL="error", CMAA_RATE_LIMIT_OFFICIAL="10000000/minute",
                                           CMAA_RATE_LIMIT_PARTNER="10000000/minute",
                                           CMAA_COURIER=courier, CMAA_API_WORKERS=str(workers), **(node_env or {}))
    external = None
    try:
        no.start(), jp.start()
        if courier == "external":  # NO's courier as its own process, started by hand (`cmaa courier run`)
            external = subprocess.Popen([sys.executable, "-m", "service.cli", "courier", "run", "--interval", "0.02"],
                                       env=no.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        headers = {"Authorization": f"Bearer {token}"}
        submit(no.base, headers, 20, None)  # warm up both nodes
        deadline = time.monotonic() + 60
        while len([r for r in delivered_rows(url_no) if r["status"] == "delivered"]) < 20:
            if time.monotonic() > deadline:
                raise RuntimeError("warm-up did not complete")
            time.sleep(0.2)
        if workers == 1:  # one process each: the split between them
            pids = {"sender": [no.process.pid], "receiver": [jp.process.pid]}
            if courier == "process":  # the child `cmaa serve` started
                pids["courier"] = children(no.process.pid)[:1]
        else:  # each node's whole tree: `cmaa serve`, its workers, their courier children
            pids = {"sender node": tree(no.process.pid), "receiver node": tree(jp.process.pid)}
        if external is not None:
            pids["courier"] = [external.pid]
        cpu_before = {name: tree_cpu_seconds(group) for name, group in pids.items()}
        store_before = postgres_cpu_seconds() if backend == "postgres" else None
        spies = [subprocess.Popen(["py-spy", "record", "--pid", str(group[0]), "--format", "raw", "--rate", "200",
                                   *(["--idle", "--native"] if wall else ["--gil"]),
                                   *(["--subprocesses"] if workers > 1 else []), "--output",
                                   str(Path(profile) / f"{backend}-w{workers}-{'max' if rate is None else f'{rate:.0f}'}-"
                                       f"{name.replace(' ', '-')}.txt")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for name, group in pids.items() if group] if profile else []
        # A rated run first offers its rate for 2 s that are not counted (connections, pools and
        # the pacing settle); their latencies are reported apart.
        settle = int(2 * rate) if rate else 0
        submit_seconds = submit(no.base, headers, n + settle, rate)
        deadline = time.monotonic() + 300
        while True:
            rows = delivered_rows(url_no)
            done = [r for r in rows if r["status"] == "delivered"]
            if len(done) >= n + settle + 20 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for spy in spies:  # py-spy writes its profile on SIGINT
            spy.send_signal(2)
            spy.wait(timeout=60)
        cpu_ms = {}
        for name, before in cpu_before.items():
            after = tree_cpu_seconds(list(before))  # a process ended meanwhile (a courier replaced) is left out
            cpu_ms[name] = round(sum(after[pid] - before[pid] for pid in after) * 1000 / n, 2)
        store_after = postgres_cpu_seconds() if store_before is not None else None
        if store_after is not None:  # the driver's polling of the outbox included (a few statements a second)
            cpu_ms["postgresql server"] = round((store_after - store_before) * 1000 / n, 2)
        ordered = sorted(done, key=lambda r: r["created_at"])
        measured = ordered[20 + settle:]
        settling = [r["delivered_at"] - r["created_at"] for r in ordered[20:20 + settle]]
        latencies = [r["delivered_at"] - r["created_at"] for r in measured]
        stored = received_at(url_jp)
        split = [(stored[r["envelope_id"]] - r["created_at"], r["delivered_at"] - stored[r["envelope_id"]])
                 for r in measured if r["envelope_id"] in stored]
        span = (max(r["delivered_at"] for r in measured) - min(r["created_at"] for r in measured)) / 1000
        # Per second of the run: requests accepted and exchanges completed (a courier that
        # falls behind the API while requests arrive shows here, and drains after).
        first = min(r["created_at"] for r in measured)
        accepted = collections.Counter(int((r["created_at"] - first) // 1000) for r in measured)
        completed = collections.Counter(int((r["delivered_at"] - first) // 1000) for r in measured)
        return {"backend": backend, "workers": workers, "n": len(measured), "rate": rate, "submit_s": submit_seconds,
                "accepted_per_second": [accepted[i] for i in range(max(accepted) + 1)],
                "completed_per_second": [completed[i] for i in range(max(completed) + 1)],
                "exchanges_per_s": len(measured) / span, "p50_ms": statistics.median(latencies),
                "p99_ms": statistics.quantiles(latencies, n=100)[98], "cpu_ms_per_exchange": cpu_ms,
                # Where the latency is: accepted -> stored in the partner's inbox (waiting for the courier,
                # sealing, the request, the partner's checks), then -> its receipt stored here.
                "stages_p50_p99_ms": {"to the partner's inbox": p50_p99([a for a, _ in split]),
                                      "from there to the receipt stored": p50_p99([b for _, b in split])},
                "settling_p99_ms": statistics.quantiles(settling, n=100)[98] if len(settling) > 1 else None,
                "p99_with_settling_ms": statistics.quantiles(settling + latencies, n=100)[98],
                "not_delivered": len(rows) - len(done),
                "exchanges": [(r["created_at"], stored.get(r["envelope_id"]), r["delivered_at"]) for r in measured],
                # Sent more than once (a retry: transport error, 5xx, a busy store, a receipt not accepted),
                # by the last error seen: a pipeline that keeps up sends each envelope once.
                "sent_again_by_error": dict(collections.Counter(
                    (r["last_error"] or "")[:60] for r in done if r["attempts"] > 1)),
                "not_delivered_by_status": dict(collections.Counter(
                    f"{r['status']}: {(r['last_error'] or r['rejection'] or '')[:80]}" for r in rows
                    if r["status"] != "delivered"))}
    finally:
        if external is not None:
            external.terminate()
            external.wait(timeout=30)
        no.stop(), jp.stop()
        drop_schemas(schemas)


def counts(text: str) -> list[int]:
    if text == "none":  # no run of this kind (e.g. --workers none: only the latency run)
        return []
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of worker counts such as 1,2, or none") from None
    if not values or any(not 1 <= v <= 32 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts are 1 to 32 (CMAA_API_WORKERS)")
    return values


def targets(backend: str, result: dict, skeleton: dict | None, half_skeleton: bool) -> str:
    """Issue 20's target for this run and whether it is met (text only: a bench never fails a build)."""
    ratio_target, p99_target = TARGETS[backend]
    if result["rate"] is None:
        goal = f"target: at max load >= {ratio_target:.1f} of the {backend} skeleton's rate"
        if skeleton is None:
            return f"{goal}: not measured (--no-floor)"
        ratio = result["exchanges_per_s"] / skeleton["exchanges_per_s"]
        return f"{goal}: {ratio:.2f} {'met' if ratio >= ratio_target else 'NOT met'}"
    goal = f"target: p99 < {p99_target:.0f} ms at half the {backend} skeleton's max rate"
    verdict = f"p99 {result['p99_ms']:.1f} ms {'met' if result['p99_ms'] < p99_target else 'NOT met'}"
    if half_skeleton:
        return f"{goal}: {verdict} at {result['rate']:.0f}/s"
    return (f"{goal}: {verdict} at {result['rate']:.0f}/s, which is not half the skeleton's rate "
            f"({'--rate given' if skeleton else '--no-floor'})")


def report(backend: str, result: dict, args, base: float, skeleton: dict | None, half_skeleton: bool) -> None:
    rate, pad = result["rate"], " " * 24
    load = "max" if rate is None else f"{rate:.0f}/s"
    print(json.dumps(result))
    name = backend + ("" if backend != "sqlite" or args.synchronous == "full" else "/normal")
    print(f"{name + ' courier=' + args.courier:<24} workers {result['workers']:<2} load {load:<6} "
          f"{result['exchanges_per_s']:8.1f} full exchanges/s  "
          f"p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms  "
          f"ratio to baseline {result['exchanges_per_s'] / base:.3f}"
          + (f", to skeleton {result['exchanges_per_s'] / skeleton['exchanges_per_s']:.2f}" if skeleton else ""))
    if result["settling_p99_ms"] is not None:
        print(pad + f" first 2 s at this rate, not counted: p99 {result['settling_p99_ms']:.1f} ms; "
              f"the whole run with them: p99 {result['p99_with_settling_ms']:.1f} ms")
    print(pad + " CPU ms per exchange: " + ", ".join(f"{k} {v}" for k, v in result["cpu_ms_per_exchange"].items()))
    print(pad + " latency by stage, p50 / p99 ms: " + "; ".join(
        f"{stage} {' / '.join(f'{v:.0f}' for v in figures)}" for stage, figures in result["stages_p50_p99_ms"].items()))
    print(pad + f" per second: accepted {result['accepted_per_second']}, completed {result['completed_per_second']}")
    print(pad + " " + targets(backend, result, skeleton, half_skeleton))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=None, help="offered load for the latency run (default: half "
                        "the skeleton's max rate measured in this run; 100 with --no-floor)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", type=counts, default=[1], metavar="N[,N...]",
                        help="API worker processes of both nodes (CMAA_API_WORKERS), one max-load run per count "
                        "(none: no max-load run)")
    parser.add_argument("--latency-workers", type=counts, default=[1], metavar="N[,N...]",
                        help="worker counts of the latency run (default 1)")
    parser.add_argument("--courier", choices=["process", "thread", "external"], default="process",
                        help="CMAA_COURIER of the sending node: a child of cmaa serve (default), a thread in it, "
                        "or `cmaa courier run` started beside it")
    parser.add_argument("--profile", metavar="DIR",
                        help="sample each node process with py-spy during each run (collapsed stacks in DIR, "
                        "a file per process and load)")
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full",
                        help="SQLite: the store URL's ?synchronous= (full, the default, flushes every commit to disk)")
    parser.add_argument("--env", action="append", default=[], metavar="CMAA_X=VALUE",
                        help="a setting for both nodes (repeatable), e.g. CMAA_SEALER_INTERVAL_SECONDS=0.2")
    parser.add_argument("--wall", action="store_true", help="with --profile: sample every thread, idle or not "
                        "(where the time goes), instead of only the thread holding the GIL (where the CPU goes)")
    parser.add_argument("--dump", metavar="DIR", help="write each run's measured exchanges (ms: accepted, in the "
                        "partner's inbox, receipt stored) to a JSON file in DIR, to study the tail")
    parser.add_argument("--no-floor", action="store_true", help="skip the skeleton of the fixed stack (bench/floor.py)")
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="each run K times, each right after a skeleton run of its own (a latency run at half "
                        "that one's rate); prints the median ratio and the median p99 (this machine's speed "
                        "drifts by 20 %% within minutes)")
    args = parser.parse_args()
    base = baseline()
    print(f"baseline: raw envelope seal+open {base:,.0f}/s (one process)")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if not args.no_floor:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import floor
    for backend in backends:
        # Each back end's ratios are to the skeleton on the same back end: the eventsourcing library's own
        # recorder for it (bench/floor.py --backend), as issue 20 allows for PostgreSQL.
        skeleton = None
        if not args.no_floor:
            skeleton = floor.run(2000, backend=backend)
            print(floor.describe(skeleton))
        half_skeleton = args.rate is None and skeleton is not None
        plan = [(workers, False) for workers in args.workers] + [(w, True) for w in args.latency_workers]
        for workers, latency in plan:
            ratios, p99s = [], []
            for attempt in range(args.repeat):
                paired = skeleton
                if skeleton is not None and (attempt or (workers, latency) != plan[0]):
                    paired = floor.run(2000, backend=backend)  # again, right before this run: the ratio of one minute
                    print(floor.describe(paired))
                # The latency run offers half the rate of the skeleton run just before it.
                rate = (args.rate or (paired["exchanges_per_s"] / 2 if paired else 100.0)) if latency else None
                with tempfile.TemporaryDirectory() as tmp:
                    result = run(backend, args.n, rate, Path(tmp), args.courier, args.profile, args.wall,
                                 args.synchronous, dict(kv.split("=", 1) for kv in args.env), workers)
                if args.dump:
                    name = f"{backend}-w{workers}-{'max' if rate is None else f'{rate:.0f}'}-{attempt}.json"
                    (Path(args.dump) / name).write_text(json.dumps(result.pop("exchanges")))
                result.pop("exchanges", None)
                report(backend, result, args, base, paired, half_skeleton)
                if latency:
                    p99s.append(result["p99_ms"])
                elif paired is not None:
                    ratios.append(result["exchanges_per_s"] / paired["exchanges_per_s"])
            if len(ratios) > 1:
                print(" " * 25 + f"median ratio to the skeleton over {len(ratios)} runs ({backend}, workers {workers}, "
                      f"max load): {statistics.median(ratios):.2f} (each: {', '.join(f'{r:.2f}' for r in ratios)})")
            if len(p99s) > 1:
                target = TARGETS[backend][1]
                median = statistics.median(p99s)
                print(" " * 25 + f"median p99 over {len(p99s)} runs ({backend}, workers {workers}, "
                      f"{'half the skeleton' if half_skeleton else 'the rate given'}): {median:.0f} ms (each: "
                      f"{', '.join(f'{p:.0f}' for p in p99s)}); target < {target:.0f} ms "
                      f"{'met' if median < target else 'NOT met'}")

if __name__ == "__main__":
    main()
