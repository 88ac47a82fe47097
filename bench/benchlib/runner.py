"""The round runner: per scenario, start the backend and every target once, warm
each up, then run rounds A,B,C,A,B,C,... (same pinning for all) and keep every
sample. Medians and ratios are computed by the report.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from . import cpu, procs
from .model import PROXY_CORE, PROXY_KERNEL, Scenario, Suite
from .peers import Before, Ctx, log


@dataclass
class Sample:
    target: str
    round: int
    metrics: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    cpu: dict = field(default_factory=dict)
    error: str = ""


@dataclass
class ScenarioResult:
    scenario: Scenario
    targets: list[str]
    unavailable: dict = field(default_factory=dict)   # target -> reason
    samples: list[Sample] = field(default_factory=list)

    def values(self, target: str, metric: str) -> list[float]:
        return [s.metrics[metric] for s in self.samples
                if s.target == target and not s.error and s.metrics.get(metric) is not None]

    def median(self, target: str, metric: str) -> float | None:
        v = self.values(target, metric)
        return statistics.median(v) if v else None

    def round_ratios(self, subject: str, baseline: str, metric: str) -> list[float]:
        """subject/baseline within each round that has both."""
        def by_round(target: str) -> dict[int, float]:
            return {s.round: s.metrics[metric] for s in self.samples
                    if s.target == target and not s.error and s.metrics.get(metric) is not None}
        a, b = by_round(subject), by_round(baseline)
        return [a[r] / b[r] for r in a if r in b and b[r] != 0]

    def paired_ratio(self, subject: str, baseline: str, metric: str) -> float | None:
        """The median over rounds of subject/baseline within each round. Targets run back to
        back within a round, so a change of the machine's speed between rounds moves both
        sides of a round's ratio alike, where it can tilt a ratio of medians."""
        ratios = self.round_ratios(subject, baseline, metric)
        return statistics.median(ratios) if ratios else None

    @classmethod
    def from_json(cls, scenario: Scenario, saved: dict) -> "ScenarioResult":
        """A scenario's result as `report.to_json` saved it (for bench/pool)."""
        return cls(scenario, saved["targets"], saved.get("unavailable", {}),
                   [Sample(**s) for s in saved["samples"]])


@dataclass
class SuiteResult:
    suite: Suite
    scenarios: list[ScenarioResult]
    started: float
    finished: float = 0.0


def _measure(ctx: Ctx, sc: Scenario, target: str, rnd: int, port: int, proxy: procs.Proc | None,
             backends: list[procs.Proc], seconds: float) -> Sample:
    s = Sample(target, rnd)
    h0 = cpu.host_stat()
    p0 = cpu.tree_cpu(proxy.pid if proxy else None)
    b0 = [cpu.tree_cpu(b.pid) for b in backends]
    c0 = cpu.children_rusage_ns()
    t0 = time.monotonic()
    try:
        raw = sc.load(ctx, port, seconds)
    except Exception as e:
        s.error = str(e)
        return s
    finally:
        wall = time.monotonic() - t0
        p1 = cpu.tree_cpu(proxy.pid if proxy else None)
        b1 = [cpu.tree_cpu(b.pid) for b in backends]
        c1 = cpu.children_rusage_ns()
        h1 = cpu.host_stat()
    proxy_ns, proxy_src = cpu.cpu_delta(p0, p1)
    if proxy is None:
        proxy_ns = None
    backend_ns = sum(cpu.cpu_delta(a, b)[0] for a, b in zip(b0, b1))
    s.raw = raw
    hd = cpu.host_delta(h0, h1)
    ours = (proxy_ns or 0) + backend_ns + (c1 - c0)
    s.cpu = {
        "wall_s": wall,
        "proxy_ns": proxy_ns,
        "proxy_cpu_source": proxy_src if proxy else None,
        "backend_ns": backend_ns,
        "loadgen_ns": c1 - c0,
        "cpu_busy_pct": {str(c): 100.0 * ns / 1e9 / wall for c, ns in sorted(hd.items())},
        # CPU used on the host by anything we did not start (other builds, daemons), % of one core.
        "foreign_pct": 100.0 * (sum(hd.values()) - ours) / 1e9 / wall,
    }
    try:
        s.metrics = sc.derive(raw, proxy_ns, wall)
    except Exception as e:
        s.error = f"derive: {e}"
        return s
    if proxy_ns is not None:
        s.metrics[PROXY_CORE.key] = 100.0 * proxy_ns / 1e9 / wall
        share = cpu.kernel_share(p0, p1)
        if share is not None:
            s.metrics[PROXY_KERNEL.key] = share
    if proxy is not None and not proxy.alive():
        s.error = f"{target} exited with code {proxy.popen.returncode} during the run"
    return s


def _measure_custom(ctx: Ctx, sc: Scenario, target: str, rnd: int, port: int, proxy: procs.Proc | None,
                    backend_port: int, seconds: float) -> Sample:
    """A round of a scenario with its own measure function (memory, syscall counts)."""
    s = Sample(target, rnd)
    t0 = time.monotonic()
    try:
        s.raw = sc.measure(ctx, target, port, proxy, backend_port, seconds)
    except Exception as e:
        s.error = str(e)
        return s
    wall = time.monotonic() - t0
    s.cpu = {"wall_s": wall}
    try:
        s.metrics = sc.derive(s.raw, None, wall)
    except Exception as e:
        s.error = f"derive: {e}"
        return s
    if proxy is not None and not proxy.alive():
        s.error = f"{target} exited with code {proxy.popen.returncode} during the run"
    return s


def run_scenario(ctx: Ctx, sc: Scenario, rounds: int, seconds: float, warmup: float,
                 only: list[str] | None, max_other_pct: float = 25.0, retries: int = 1,
                 settle: float = 0.5) -> ScenarioResult:
    targets = list(sc.targets)
    fulcrum = next((t for t in targets if t.name == "fulcrum"), None)
    if ctx.before is not None and fulcrum is not None:
        targets.insert(targets.index(fulcrum) + 1, Before(fulcrum))
    names = [t.name for t in targets if not only or t.name in only]
    by_name = {t.name: t for t in targets}
    res = ScenarioResult(sc, names)
    if sc.max_rounds:
        rounds = min(rounds, sc.max_rounds)
    log(f"scenario ({sc.key}) {sc.title}: starting backend")
    try:
        backend_port, backend = sc.backend(ctx)
    except Exception as e:
        log(f"scenario ({sc.key}): backend did not start: {e}")
        for n in names:
            res.unavailable[n] = f"the backend did not start: {e}"
        return res
    running: dict[str, tuple[int, procs.Proc | None]] = {}
    try:
        for t in targets:
            if t.name not in names:
                continue
            why = t.available(ctx)
            if why:
                res.unavailable[t.name] = why
                continue
            try:
                running[t.name] = t.start(ctx, backend_port, sc.mode)
            except Exception as e:
                res.unavailable[t.name] = f"did not start: {e}"
        # Warm-up doubles as a sanity check: a target that cannot carry the load is dropped.
        for name in list(running):
            port, proxy = running[name]
            try:
                sc.load(ctx, port, warmup)
                if proxy is not None and not proxy.alive():
                    raise RuntimeError(f"exited with code {proxy.popen.returncode}: {procs.one_line(proxy.log_tail(3))}")
            except Exception as e:
                res.unavailable[name] = f"failed warm-up: {e}"
                if proxy is not None:
                    proxy.stop()
                del running[name]
        for rnd in range(1, rounds + 1):
            for name in [n for n in names if n in running]:
                port, proxy = running[name]
                if sc.fresh_per_round and proxy is not None:
                    # e.g. memory: a process that has held N connections keeps some of that memory.
                    proxy.stop()
                    del running[name]
                    try:
                        port, proxy = by_name[name].start(ctx, backend_port, sc.mode)
                    except Exception as e:
                        res.unavailable[name] = f"did not start again for round {rnd}: {e}"
                        continue
                    running[name] = (port, proxy)
                # A sample during which other processes (someone's build) took more than
                # max_other_pct of a core is measured again, up to `retries` times.
                # The quietest attempt is kept.
                best = None
                for attempt in range(retries + 1):
                    time.sleep(settle)
                    if sc.measure is not None:
                        s = _measure_custom(ctx, sc, name, rnd, port, proxy, backend_port, seconds)
                    else:
                        backends = ([backend] if backend else []) + by_name[name].own_backends()
                        s = _measure(ctx, sc, name, rnd, port, proxy, backends, seconds)
                    other = s.cpu.get("foreign_pct", 0.0)
                    if s.error:
                        best = s
                        break
                    if best is None or other < best.cpu.get("foreign_pct", 0.0):
                        best = s
                    if other <= max_other_pct or attempt == retries:
                        break
                    log(f"  ({sc.key}) round {rnd}/{rounds} {name:8s} other load {other:.0f}% of a core, again")
                s = best
                s.raw["attempts"] = attempt + 1
                res.samples.append(s)
                brief = ", ".join(f"{k}={v:.4g}" for k, v in s.metrics.items() if v is not None)
                log(f"  ({sc.key}) round {rnd}/{rounds} {name:8s} {s.error or brief}")
                if proxy is not None and not proxy.alive():
                    res.unavailable[name] = f"exited with code {proxy.popen.returncode} in round {rnd}"
                    del running[name]
    finally:
        for name, (_, proxy) in running.items():
            if proxy is not None:
                proxy.stop()
        if backend is not None:
            backend.stop()
    return res


def run_suite(ctx: Ctx, suite: Suite, rounds: int, seconds: float, warmup: float,
              only: list[str] | None, max_other_pct: float = 25.0, retries: int = 1,
              scenarios: list[str] | None = None) -> SuiteResult:
    out = SuiteResult(suite, [], time.time())
    for sc in suite.scenarios:
        if scenarios and sc.key not in scenarios:
            continue
        out.scenarios.append(run_scenario(ctx, sc, rounds, seconds, warmup, only, max_other_pct, retries))
    out.finished = time.time()
    return out
