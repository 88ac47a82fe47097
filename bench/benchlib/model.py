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


@dataclass
class Check:
    """A goal: subject/baseline OP value on one metric (medians), e.g. fulcrum/haproxy >= 1.0."""
    scenario: str
    metric: str
    baseline: str
    op: str            # ">=" or "<="
    value: float
    subject: str = "fulcrum"

    def describe(self, metric_label: str) -> str:
        return f"{metric_label}: {self.subject}/{self.baseline} {'≥' if self.op == '>=' else '≤'} {self.value:g}×"

    def passes(self, ratio: float) -> bool:
        return ratio >= self.value if self.op == ">=" else ratio <= self.value


# A scenario's load function gets (ctx, port, seconds) and returns a raw dict;
# its derive function gets (raw, proxy_cpu_ns or None, wall_seconds) and returns metric values.
LoadFn = Callable[[Ctx, int, float], dict]
DeriveFn = Callable[[dict, "int | None", float], dict]
BackendFn = Callable[[Ctx], "tuple[int, object]"]

PROXY_CORE = Metric("proxy_core_pct", "proxy CPU use", "% of a core", "info", proxy_only=True)


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

    def __post_init__(self):
        if not any(m.key == PROXY_CORE.key for m in self.metrics):
            self.metrics.append(PROXY_CORE)


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
