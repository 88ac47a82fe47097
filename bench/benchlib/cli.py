"""bench/run [options] [SUITE...] -- see bench/README.md."""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import tempfile
import shutil

from . import peers, procs, report, runner

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCH_DIR)


def available_suites() -> list[str]:
    d = os.path.join(BENCH_DIR, "suites")
    return sorted(f[:-3] for f in os.listdir(d) if f.endswith(".py") and not f.startswith("_"))


def parse(argv):
    ap = argparse.ArgumentParser(prog="bench/run", description="Fulcrum benchmark harness: pinned, alternating "
                                 "rounds of direct / haproxy / Fulcrum; prints a Markdown table and saves it "
                                 "under bench/results/.")
    ap.add_argument("suites", nargs="*", metavar="SUITE", help=f"suites to run (default: all: {', '.join(available_suites())})")
    ap.add_argument("--quick", action="store_true", help="2 rounds × 2 s (smoke test, noisier)")
    ap.add_argument("--rounds", type=int, help="rounds per target (default 3)")
    ap.add_argument("--seconds", type=float, help="seconds per measured run (default: the suite's, 5 for tcp, "
                                                  "4 for http; --quick: 2)")
    ap.add_argument("--warmup", type=float, help="seconds of warm-up per target and scenario (default 1)")
    ap.add_argument("--max-other-load", type=float, default=25.0, metavar="PCT",
                    help="measure a run again (up to --retries times) if processes the harness did not start "
                         "used more than PCT%% of a core during it (default 25)")
    ap.add_argument("--retries", type=int, default=1, help="see --max-other-load (default 1)")
    ap.add_argument("--targets", help="comma-separated subset, e.g. direct,haproxy")
    ap.add_argument("--scenarios", help="comma-separated scenario keys to run, e.g. a,c (default: all of each suite)")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install missing peers")
    ap.add_argument("--no-build", action="store_true", help="do not run cargo build; use target/release/fulcrum as is")
    ap.add_argument("--fulcrum-bin", help="use this Fulcrum binary (implies --no-build)")
    ap.add_argument("--before-bin", help="also run this Fulcrum binary, as target `before`, wherever `fulcrum` "
                                         "runs (alternating, same settings), and print fulcrum/before ratios: "
                                         "a data-path change's before and after in one run")
    ap.add_argument("--proxy-cpu", type=int, default=1, help="CPU for the proxy (default 1)")
    ap.add_argument("--load-cpu", type=int, default=0, help="CPU for the load generator (default 0)")
    ap.add_argument("--backend-cpu", type=int, default=0, help="CPU for the backend (default 0)")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results"), help="results directory")
    ap.add_argument("--no-save", action="store_true", help="print only, do not write results files")
    ap.add_argument("--keep-tmp", action="store_true", help="keep generated configs and logs")
    ap.add_argument("--list", action="store_true", help="list suites and exit")
    a = ap.parse_args(argv)
    a.rounds = a.rounds or (2 if a.quick else 3)
    if a.seconds is None and a.quick:
        a.seconds = 2
    a.warmup = a.warmup if a.warmup is not None else 1
    return a


def main(argv=None) -> int:
    a = parse(sys.argv[1:] if argv is None else argv)
    if a.list:
        for name in available_suites():
            mod = importlib.import_module(f"suites.{name}")
            print(f"{name}: {mod.SUITE.title}")
            for sc in mod.SUITE.scenarios:
                print(f"  ({sc.key}) {sc.title}")
        return 0
    names = a.suites or available_suites()
    unknown = [n for n in names if n not in available_suites()]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; have: {', '.join(available_suites())}", file=sys.stderr)
        return 2
    suites = [importlib.import_module(f"suites.{n}").SUITE for n in names]
    ncpu = os.cpu_count() or 1
    for c in (a.proxy_cpu, a.load_cpu, a.backend_cpu):
        if c >= ncpu:
            print(f"CPU {c} does not exist (nproc = {ncpu})", file=sys.stderr)
            return 2

    procs.install_signal_handlers()
    tmp = tempfile.mkdtemp(prefix="fulcrum-bench-")
    try:
        binaries = sorted({b for s in suites for b in s.binaries})
        peers.ensure_installed(binaries, allow_install=not a.no_install)
        only = a.targets.split(",") if a.targets else None
        if only is None or "fulcrum" in only:
            fb = peers.build_fulcrum(REPO, a.fulcrum_bin, not (a.no_build or a.fulcrum_bin), tmp)
        else:
            fb = peers.FulcrumBuild(None, "not selected", peers.git_commit(REPO))
        if fb.reason:
            peers.log(f"Fulcrum unavailable: {fb.reason}")
        versions = {b: peers.version(b) for b in binaries if b != "taskset"}
        before = peers.build_fulcrum(REPO, a.before_bin, False, tmp) if a.before_bin else None
        if before is not None and before.reason:
            print(f"--before-bin: {before.reason}", file=sys.stderr)
            return 2
        ctx = peers.Ctx(tmp=tmp, proxy_cpu=a.proxy_cpu, load_cpu=a.load_cpu, backend_cpu=a.backend_cpu,
                        fulcrum=fb, versions=versions, before=before)
        # The harness itself sleeps during runs, but keep its bookkeeping off the proxy's CPU.
        os.sched_setaffinity(0, {a.load_cpu})
        meta = {
            "machine": peers.machine(),
            "versions": versions,
            "fulcrum": {"commit": fb.commit, "binary": fb.binary, "reason": fb.reason,
                        "version": peers.fulcrum_version(fb.binary)},
            "before": before and {"binary": before.binary, "version": peers.fulcrum_version(before.binary)},
            "proxy_cpu": a.proxy_cpu, "load_cpu": a.load_cpu, "backend_cpu": a.backend_cpu,
            "rounds": a.rounds, "seconds": a.seconds, "warmup": a.warmup,  # seconds: per suite, below
            "max_other_load_pct": a.max_other_load, "retries": a.retries,
            "command": " ".join(["bench/run", *(shlex.quote(x) for x in (sys.argv[1:] if argv is None else argv))]),
        }
        for s in suites:
            seconds = a.seconds or s.seconds
            meta = dict(meta, seconds=seconds)
            res = runner.run_suite(ctx, s, a.rounds, seconds, a.warmup, only, a.max_other_load, a.retries,
                                   a.scenarios.split(",") if a.scenarios else None)
            if a.no_save:
                print(report.markdown(res, meta))
            else:
                md, mdp, jsp = report.save(res, meta, a.out)
                print(md)
                peers.log(f"saved {os.path.relpath(mdp)} and {os.path.relpath(jsp)}")
        return 0
    except procs.Interrupted as e:
        print(f"[bench] interrupted ({e}); stopped everything we started", file=sys.stderr)
        return 130
    finally:
        procs.cleanup()
        if a.keep_tmp:
            peers.log(f"configs and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
