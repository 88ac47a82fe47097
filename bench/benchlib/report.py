"""Markdown table and JSON output."""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import time

from .procs import one_line
from .runner import ScenarioResult, SuiteResult

DASH = "—"


def fmt(v: float | None, integer: bool = False) -> str:
    if v is None:
        return DASH
    if integer:
        return f"{v:,.0f}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_ratio(r: float | None) -> str:
    return DASH if r is None else f"{r:.2f}×"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["l"] + ["r"] * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _missing(sr: ScenarioResult, t: str) -> str:
    """The cell of a target with no value: why (see the notes)."""
    if t in sr.unavailable and not any(s.target == t for s in sr.samples):
        return "errors" if sr.unavailable[t].startswith("failed warm-up") else "unavailable"
    if any(s.error for s in sr.samples if s.target == t):
        return "errors"
    return DASH


def summary_table(res: SuiteResult) -> str:
    suite = res.suite
    targets = []
    for sr in res.scenarios:
        for t in sr.targets:
            if t not in targets:
                targets.append(t)
    baselines = [b for b in suite.baselines if b in targets and b != suite.subject]
    has_subject = suite.subject in targets
    header = ["scenario", "metric", *targets]
    if has_subject and "before" in targets:
        baselines.append("before")
    if has_subject:
        header += [f"{suite.subject}/{b}" for b in baselines]
    rows = []
    for sr in res.scenarios:
        first = True
        for m in sr.scenario.metrics:
            row = [f"({sr.scenario.key}) {sr.scenario.title}" if first else "", f"{m.label} ({m.unit})"]
            first = False
            for t in targets:
                if t not in sr.targets or (m.proxy_only and t == "direct"):
                    row.append(DASH)
                elif not sr.values(t, m.key):
                    row.append(_missing(sr, t))
                else:
                    row.append(fmt(sr.median(t, m.key), m.integer))
            if has_subject:
                for b in baselines:
                    if m.better == "info" or (m.proxy_only and b == "direct"):
                        row.append("")
                    else:
                        row.append(fmt_ratio(ratio(sr.median(suite.subject, m.key), sr.median(b, m.key))))
            rows.append(row)
    return _table(header, rows, ["l", "l"] + ["r"] * (len(header) - 2))


FLOOR_NOTE = ("Floor: the same ratio for `relay`, haproxy in mode tcp passing the same bytes between the "
              "same load and backend with no HTTP (and no TLS) work: what moving those bytes costs "
              "with the same system calls and segments. A goal below its floor asks for less CPU than "
              "relaying the bytes takes on this machine.")


def checks_table(res: SuiteResult) -> tuple[str, list[dict]]:
    by_key = {sr.scenario.key: sr for sr in res.scenarios}
    rows, out = [], []
    with_floor = any(c.floor for c in res.suite.checks)
    for c in res.suite.checks:
        sr = by_key.get(c.scenario)
        if sr is None:
            continue
        m = next(m for m in sr.scenario.metrics if m.key == c.metric)
        r = ratio(sr.median(c.subject, c.metric), sr.median(c.baseline, c.metric))
        paired = sr.paired_ratio(c.subject, c.baseline, c.metric)
        if r is None:
            why = [f"{t} {_missing(sr, t)}" for t in (c.subject, c.baseline)
                   if t in sr.targets and not sr.values(t, c.metric)]
            verdict = "n/a" + (f" ({', '.join(why)})" if why else "")
        else:
            # Both must hold: a change of machine speed between rounds can tilt either one.
            verdict = "PASS" if c.passes(r) and (paired is None or c.passes(paired)) else "FAIL"
        goal = f"({c.scenario}) " + c.describe(m.label)
        floor = None
        if c.floor and c.floor in sr.targets:
            floor = ratio(sr.median(c.floor, c.metric), sr.median(c.baseline, c.metric))
        rows.append([goal, fmt_ratio(r), fmt_ratio(paired), verdict]
                    + ([fmt_ratio(floor) if c.floor else ""] if with_floor else []))
        out.append({"goal": goal, "ratio": r, "paired": paired, "verdict": verdict, "floor": floor})
    header = ["goal", "measured", "per round", "verdict"] + (["floor (relay/baseline)"] if with_floor else [])
    return _table(header, rows, ["l", "r", "r", "l"] + (["r"] if with_floor else [])), out


def rounds_table(sr: ScenarioResult) -> str:
    keys = [m for m in sr.scenario.metrics]
    header = ["round", "target", *[f"{m.label} ({m.unit})" for m in keys], "CPU busy %", "other load %", "note"]
    rows = []
    for s in sr.samples:
        busy = "/".join(f"{v:.0f}" for v in s.cpu.get("cpu_busy_pct", {}).values())
        foreign = s.cpu.get("foreign_pct")
        note = one_line(s.error)
        errs = s.raw.get("errors") if isinstance(s.raw, dict) else None
        if errs and not s.error:
            note = (note + "; " if note else "") + f"{errs} socket/HTTP errors"
        if isinstance(s.raw, dict) and s.raw.get("note"):
            note = (note + "; " if note else "") + one_line(str(s.raw["note"]))
        if s.cpu.get("proxy_cpu_source") == "stat":
            note = (note + "; " if note else "") + "proxy CPU from /proc/PID/stat (threads exited)"
        attempts = s.raw.get("attempts", 1) if isinstance(s.raw, dict) else 1
        if attempts > 1:
            note = (note + "; " if note else "") + f"measured {attempts}× (other load)"
        rows.append([str(s.round), s.target, *[fmt(s.metrics.get(m.key), m.integer) for m in keys], busy or DASH,
                     DASH if foreign is None else f"{max(0.0, foreign):.0f}", note])
    return _table(header, rows, ["r", "l"] + ["r"] * (len(keys) + 2) + ["l"])


def markdown(res: SuiteResult, meta: dict) -> str:
    suite = res.suite
    out = [f"# Fulcrum benchmark: {suite.name} suite", ""]
    out.append(f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(res.started))}, "
               f"took {res.finished - res.started:.0f} s")
    m = meta["machine"]
    out.append(f"- machine: {m['nproc']} CPUs ({m['cpu']}), Linux {m['kernel']}")
    f = meta["fulcrum"]
    out.append(f"- Fulcrum: commit {f['commit']}" + (f" ({f['version']})" if f.get("version") else "")
               + (f", unavailable: {f['reason']}" if f["reason"] else ""))
    if meta.get("before"):
        b = meta["before"]
        out.append(f"- before (`--before-bin`): {b['binary']}" + (f" ({b['version']})" if b.get("version") else ""))
    out.append("- peers: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    out.append(f"- pinning: proxy on CPU {meta['proxy_cpu']}; load generator on CPU {meta['load_cpu']}, "
               f"backend on CPU {meta['backend_cpu']}; direct runs have no proxy")
    out.append(f"- rounds: {meta['rounds']} × {meta['seconds']:g} s per target, alternating "
               f"({', '.join(res.scenarios[0].targets) if res.scenarios else ''}); values are medians; "
               f"warm-up {meta['warmup']:g} s per target")
    out.append(f"- command: `{meta['command']}`")
    out.append("")
    out.append(summary_table(res))
    out.append("")
    if suite.checks:
        t, _ = checks_table(res)
        out += ["Goals: \"measured\" is the ratio of the medians, \"per round\" the median of each "
                "round's ratio (the targets of a round run back to back); a goal passes when both meet it.",
                "", t, ""]
        if any(c.floor for c in suite.checks):
            out += [FLOOR_NOTE, ""]
    notes = []
    for sr in res.scenarios:
        for t, why in sr.unavailable.items():
            notes.append(f"({sr.scenario.key}) {t} unavailable: {one_line(why)}")
        for t in sr.targets:
            errs = [s for s in sr.samples if s.target == t and s.error]
            if errs:
                seen = list(dict.fromkeys(one_line(s.error) for s in errs))
                n_all = sum(1 for s in sr.samples if s.target == t)
                notes.append(f"({sr.scenario.key}) {t}: {len(errs)} of {n_all} rounds failed"
                             f"{' (not in the medians)' if len(errs) < n_all else ''}: " + " / ".join(seen[:3]))
    foreign = [s.cpu["foreign_pct"] for sr in res.scenarios for s in sr.samples if "foreign_pct" in s.cpu]
    if foreign and max(foreign) > 15:
        notes.append(f"other processes used up to {max(foreign):.0f}% of a core during some runs "
                     f"(median {statistics.median(foreign):.0f}%): rates are noisier than usual; "
                     "CPU per unit of work is less affected")
    if notes:
        out += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    out += ["<details><summary>How each scenario was measured, and every round</summary>", ""]
    for sr in res.scenarios:
        out += [f"### ({sr.scenario.key}) {sr.scenario.title}", "", sr.scenario.describe, "", rounds_table(sr), ""]
    for n in suite.notes:
        out.append(f"- {n}")
    out += ["", "</details>", ""]
    return "\n".join(out)


def to_json(res: SuiteResult, meta: dict) -> dict:
    _, checks = checks_table(res)
    return {
        "suite": res.suite.name,
        "meta": meta,
        "started": res.started,
        "finished": res.finished,
        "checks": checks,
        "scenarios": [
            {
                "key": sr.scenario.key,
                "title": sr.scenario.title,
                "metrics": [dataclasses.asdict(m) for m in sr.scenario.metrics],
                "targets": sr.targets,
                "unavailable": sr.unavailable,
                "medians": {t: {m.key: sr.median(t, m.key) for m in sr.scenario.metrics} for t in sr.targets},
                "samples": [dataclasses.asdict(s) for s in sr.samples],
            }
            for sr in res.scenarios
        ],
    }


def save(res: SuiteResult, meta: dict, out_dir: str) -> tuple[str, str, str]:
    os.makedirs(out_dir, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d-%H%M%S", time.localtime(res.started))
    base = os.path.join(out_dir, f"{stamp}-{res.suite.name}")
    md = markdown(res, meta)
    with open(base + ".md", "w") as f:
        f.write(md)
    with open(base + ".json", "w") as f:
        json.dump(to_json(res, meta), f, indent=1, default=str)
    return md, base + ".md", base + ".json"
