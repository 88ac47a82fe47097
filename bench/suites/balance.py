"""balance: the cost of one backend pick, per algorithm, with 10, 100 and 1,000 backends.

Not a proxy comparison: each round runs the micro-benchmark crates/balance/benches/pick.rs
once (`cargo bench -p fulcrum-balance --bench pick`, release profile, std timing, unpinned on
every CPU) and reads its JSON. Scenarios are the algorithms; the "targets" are how it was
measured (1 thread, all threads, each with and without counter accounting) plus "goal", the
issue's target per pick, so the goals table checks measured/goal <= 1.
"""

from __future__ import annotations

import json
import os
import shutil
import time

from benchlib import peers, procs
from benchlib.model import Check, Metric, Scenario, Suite

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CARGO = ["cargo", "bench", "--manifest-path", os.path.join(REPO, "Cargo.toml"), "--locked",
         "-p", "fulcrum-balance", "--bench", "pick"]
BUILD_TIMEOUT = 1800
RUN_TIMEOUT = 900
SIZES = [10, 100, 1000]

# (key in pick.rs, title, goal in ns per pick or None)
ALGORITHMS = [
    ("rr", "round robin", 50.0),
    ("wrr", "smooth weighted round robin", None),
    ("lc", "weighted least connections", None),
    ("p2c", "least outstanding requests, two choices (p2c)", 50.0),
    ("ewma", "peak-EWMA latency, two choices", None),
    ("random", "weighted random", None),
    ("source", "source hash", None),
    ("ring", "ring hash (ketama)", None),
    ("ring-bounded", "ring hash, bounded load 1.25", None),
    ("maglev", "Maglev", 100.0),
    ("maglev-bounded", "Maglev, bounded load 1.25", None),
]

# Target name -> field of the bench's JSON rows.
VARIANTS = {
    "1-thread": "t1",
    "all-threads": "tn",
    "1-thread+acct": "t1_acct",
    "all-threads+acct": "tn_acct",
}
GOAL = "goal"

# Per harness run (keyed by its temp dir): the build outcome, and one bench result per round.
_state: dict[str, dict] = {}


def _st(ctx) -> dict:
    return _state.setdefault(ctx.tmp, {"built": None, "runs": [], "calls": {}})


def _argv(ctx, extra: list[str]) -> list[str]:
    # The harness pins itself (and so its children) to the load CPU: give the bench every CPU.
    n = os.cpu_count() or 1
    argv = [*CARGO, *extra]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", f"0-{n - 1}", *argv]
    return argv


def _build(ctx) -> None:
    """Warm-up: build the bench once per harness run; raise (target unavailable) if it fails."""
    st = _st(ctx)
    if st["built"] is None:
        if shutil.which("cargo") is None:
            st["built"] = "cargo not found"
        else:
            peers.log("balance: building the pick bench (cargo bench --no-run, release profile)")
            r = procs.run(_argv(ctx, ["--no-run"]), None, BUILD_TIMEOUT)
            errs = [l for l in (r.stderr or "").splitlines() if l.startswith("error")]
            st["built"] = "" if r.returncode == 0 else (errs[0] if errs else f"cargo exit {r.returncode}")
    if st["built"]:
        raise RuntimeError(f"pick bench build failed: {st['built']}")


def _run_bench(ctx, quick: bool) -> dict:
    out = os.path.join(ctx.tmp, f"pick-{len(_st(ctx)['runs']) + 1}.json")
    peers.log(f"balance: running the pick bench{' --quick' if quick else ''} (all algorithms, sizes, threads)")
    t0 = time.monotonic()
    r = procs.run(_argv(ctx, ["--", "--json", out, *(["--quick"] if quick else [])]), None, RUN_TIMEOUT)
    if r.returncode != 0 or not os.path.exists(out):
        raise RuntimeError(f"pick bench failed (exit {r.returncode}): {procs.one_line((r.stderr or '')[-600:])}")
    with open(out) as f:
        res = json.load(f)
    res["table"] = r.stdout
    res["wall_s"] = time.monotonic() - t0
    verdicts = [x["verdict"] for x in res["results"] if x["verdict"]]
    peers.log(f"balance: bench took {res['wall_s']:.0f} s, {res['threads']} threads, "
              f"{verdicts.count('PASS')} of {len(verdicts)} goals met"
              + (f" ({verdicts.count('PASS*')} more without all threads together)" if "PASS*" in verdicts else ""))
    return res


def _measure_for(key: str, goal: float | None):
    def measure(ctx, target, port, proxy, backend_port, seconds):
        if target == GOAL:
            return {f"n{n}": goal for n in SIZES}
        st = _st(ctx)
        # The runner calls each (scenario, target) once per round, rounds in order: the n-th
        # call is round n, and every scenario of round n reads the same bench run.
        rnd = st["calls"][(key, target)] = st["calls"].get((key, target), 0) + 1
        fresh = len(st["runs"]) < rnd
        if fresh:
            st["runs"].append(_run_bench(ctx, quick=seconds < 5))
        res = st["runs"][rnd - 1]
        field = VARIANTS[target]
        rows = [x for x in res["results"] if x["key"] == key]
        if not rows:
            raise RuntimeError(f"the bench has no results for {key!r}")
        # A value measured while the threads were not all picking together understates the
        # contended cost: left out (the median is over the other rounds).
        raw = {f"n{x['backends']}": None if field in x["apart"] else x[field] for x in rows}
        apart = [f"{x['backends']}" for x in rows if field in x["apart"]]
        if apart:
            raw["note"] = f"left out (threads not together): {', '.join(apart)} backends"
        raw["threads"] = res["threads"]
        if fresh:
            # Once per run: the bench's own table and footer (in the JSON), and a summary.
            raw["bench_table"] = res["table"]
            summary = (f"bench run {rnd}: {res['threads']} threads, {res['wall_s']:.0f} s; "
                       f"context {res['loop_ns']:.1f} ns, hash_ip {res['hash_ip_ns']:.1f} ns, "
                       f"pick_available +{res['pick_available_extra_ns']:.1f} ns; lock-free: "
                       + ("yes" if res["lock_free"] else "NO: " + ", ".join(res["locks_found"])))
            raw["note"] = "; ".join(n for n in (summary, raw.get("note")) if n)
        return raw
    return measure


def _derive(raw, proxy_ns, wall):
    return {f"n{n}": raw.get(f"n{n}") for n in SIZES}


def _load(ctx, port, seconds):
    _build(ctx)
    return {}


def _nothing(ctx):
    return 0, None


class _Variant(peers.Target):
    is_proxy = False

    def __init__(self, name: str):
        self.name = name

    def start(self, ctx, backend_port, mode):
        return 0, None


_VARIANT_TARGETS = [_Variant(n) for n in VARIANTS]


def _scenario(key: str, title: str, goal: float | None) -> Scenario:
    return Scenario(
        key=key, title=title, mode="pick", backend=_nothing, load=_load, derive=_derive,
        metrics=[Metric(f"n{n}", f"{n:,} backends", "ns/pick", "lower") for n in SIZES],
        targets=_VARIANT_TARGETS + ([_Variant(GOAL)] if goal is not None else []),
        measure=_measure_for(key, goal),
        describe=f"{title}: ns per pick; each round's value comes from one run of the whole bench "
                 "binary (see the notes at the end).",
    )


SUITE = Suite(
    name="balance",
    title="backend selection: ns per pick (cargo bench --bench pick)",
    binaries=["taskset"],
    scenarios=[_scenario(k, t, g) for k, t, g in ALGORITHMS],
    checks=[Check(k, f"n{n}", GOAL, "<=", 1.0, subject=s)
            for k, _, g in ALGORITHMS if g is not None
            for n in SIZES
            for s in ("1-thread", "all-threads")],
    subject="all-threads",
    baselines=[],
    notes=[
        "Each round runs crates/balance/benches/pick.rs once (`cargo bench -p fulcrum-balance --bench pick "
        "-- --json F`, `--quick` when --seconds < 5), unpinned on every CPU; the table's values are medians "
        "over rounds of the bench's value (its best run's median ~20 µs batch). The header's pinning and "
        "seconds do not apply.",
        "Batches during which a thread was preempted are dropped; with several threads a batch counts only "
        "while every other thread was picking too. A value for which no run had the threads together (a busy "
        "machine) is left out of the medians: the round's note lists it.",
        "1-thread: one thread picking. all-threads: one picking thread per CPU (available_parallelism), "
        "released together, each with its own PickContext; the cost one worker pays per pick while all pick. "
        "+acct: the counter the algorithm reads is incremented on the pick and decremented 64 picks later.",
        "Every pick: a fresh PickContext (thread-local random number, time, a key hash for hashing "
        "algorithms) and Selector::pick_with through Box<dyn Selector>, backends with 0..=20 connections "
        "and requests open, weights 1..=10.",
        "goal: the issue's target per pick (round robin and p2c < 50 ns, Maglev < 100 ns); "
        "the goals table is measured/goal.",
        "No lock on any pick path: atomics only (read in the code; the bench also scans the pick-path "
        "sources, see each run's note).",
    ],
)
