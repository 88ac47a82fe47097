"""What a suite declares: scenarios, their metrics, and the targets (goals) to check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .peers import Ctx, Target


@dataclass
class Metric:
    key: str
    label: str
    unit: str
    better: str = "higher"     # "higher" | "lower" | "info" (no ratio)
    proxy_only: bool = False   # only proxies have it (proxy CPU); direct shows "—"
    integer: bool = False      # show as a whole number (counts)


@dataclass
class Check:
    """A goal: subject/baseline OP value on one metric (medians), e.g. fulcrum/haproxy >= 1.0."""
    scenario: str
    metric: str
    baseline: str
    op: str            # ">=" or "<="
    value: float
    subject: str = "fulcrum"
    # A reference target that does none of the subject's work but moves the same bytes (a plain
    # relay): its ratio to the baseline is printed beside the goal, the least any proxy reaches.
    floor: str | None = None

    def describe(self, metric_label: str) -> str:
        return f"{metric_label}: {self.subject}/{self.baseline} {'≥' if self.op == '>=' else '≤'} {self.value:g}×"

    def passes(self, ratio: float) -> bool:
        return ratio >= self.value if self.op == ">=" else ratio <= self.value


# A scenario's load function gets (ctx, port, seconds) and returns a raw dict;
# its derive function gets (raw, proxy_cpu_ns or None, wall_seconds) and returns metric values.
LoadFn = Callable[[Ctx, int, float], dict]
DeriveFn = Callable[[dict, "int | None", float], dict]
BackendFn = Callable[[Ctx], "tuple[int, object]"]
# A scenario that is not "load + the proxy's CPU time over it" (memory, syscall counts) gives a
# measure function instead: (ctx, target_name, port, proxy Proc or None, backend_port, seconds)
# -> raw dict; its derive function then gets (raw, None, wall_seconds).
MeasureFn = Callable[[Ctx, str, int, object, int, float], dict]

PROXY_CORE = Metric("proxy_core_pct", "proxy CPU use", "% of a core", "info", proxy_only=True)
PROXY_KERNEL = Metric("proxy_kernel_pct", "proxy CPU in the kernel", "% of its CPU", "info", proxy_only=True)


@dataclass
class Scenario:
    key: str                 # short id, e.g. "a"
    title: str               # e.g. "bulk throughput (iperf3)"
    mode: str                # used to name generated configs, e.g. "bulk"
    backend: BackendFn
    load: LoadFn
    derive: DeriveFn
    metrics: list[Metric]
    targets: list[Target]
    describe: str = ""       # how it is measured, for the report
    # Instead of timing `load` with CPU accounting: `load` is then only the warm-up/sanity check,
    # and each round calls measure(...) (no CPU accounting, no re-run on other load).
    measure: "MeasureFn | None" = None
    fresh_per_round: bool = False    # restart each target before each of its rounds
    max_rounds: int | None = None    # cap on rounds (e.g. a count that does not need repeating)

    def __post_init__(self):
        if self.measure is None and not any(m.key == PROXY_CORE.key for m in self.metrics):
            self.metrics.append(PROXY_CORE)
            self.metrics.append(PROXY_KERNEL)


@dataclass
class Suite:
    name: str
    title: str
    scenarios: list[Scenario]
    checks: list[Check] = field(default_factory=list)
    subject: str = "fulcrum"
    baselines: list[str] = field(default_factory=lambda: ["haproxy", "direct"])
    binaries: list[str] = field(default_factory=list)   # peers to install if missing
    notes: list[str] = field(default_factory=list)
    seconds: float = 5.0     # default seconds per measured run (--seconds overrides, --quick: 2)
