"""CLGQ (Dịch vụ công trực tuyến, online public services, 12 points): the formula, fitted.

The portal publishes no formula for this group. The parent row of every
``provide-online-tree`` answer carries the group score together with its raw parameters
(``authorityCount``, ``partialCount``, ``fullCount``, ``onlineDossierCount``,
``onlineServiceTotal``, ``channel*Sum``, ``onlineOnTimeSum``, ``onlineOverdueSum``); the
children carry scores only. Each parent is one observation (parameters, score).

This tool loads every observation under the given roots, scores each hypothesis (built
from the metric table's formula text, ``reference/metrics.json``) against the portal and
prints, per hypothesis, computed vs portal score, the max error, n and how many choices
were made to fit it. A second section checks whether quarter and year scores are means
of the months (they are not).

    python -m tools.clgq_fit [ROOT ...]          # default: data/samples/portal
    python -m tools.clgq_fit --markdown [ROOT]   # the table docs/index.md quotes

Files written by the synthetic generator (tools/synthetic.py) are left out and counted:
their CLGQ scores are invented, not the portal's.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = ROOT / "data" / "samples" / "portal"

PARAMETERS = (
    "authorityCount", "partialCount", "fullCount", "onlineDossierCount",
    "onlineServiceTotal", "channelOnlineSum", "channelDirectSum", "channelPostalSum",
    "channelTotalSum", "onlineOnTimeSum", "onlineOverdueSum",
)
MAX_SCORE = 12.0
ROUNDING = 0.005   # the portal's scores have two decimals: an exact formula is off by <= this
TOLERANCE = 0.02   # issue 15's bar for "reproduces"

_NAME = re.compile(r"(month|quarter|year)-(all|formality)")


@dataclass(frozen=True)
class Observation:
    source: str          # file name relative to its root
    period: str          # month | quarter | year
    scope: str           # all (the province) | formality (one procedure)
    unit: str            # the parent's departmentCode (or id)
    score: float         # the portal's totalScore
    params: Mapping[str, float]
    children: int
    children_with_parameters: int
    child_scores: tuple[tuple[str, float], ...] = ()  # (level, totalScore) per child


def _period_scope(path: Path, payload: Mapping | None) -> tuple[str, str]:
    if payload:
        scope = "formality" if ("formalityId" in payload or "formalityID" in payload) else "all"
        return str(payload.get("timeType", "?")), scope
    m = _NAME.search(path.stem)
    return (m.group(1), m.group(2)) if m else ("?", "?")


def _manifest_payloads(root: Path) -> dict[str, Mapping]:
    manifest = root / "manifest.json"
    if not manifest.exists():
        return {}
    captures = json.loads(manifest.read_text("utf-8")).get("captures", [])
    return {c["file"]: c.get("payload") or {} for c in captures}


def _sidecar(path: Path) -> Mapping:
    """A raw capture's metadata (assets/raw): its request payload and origin."""
    meta = path.with_name(path.name + ".meta.json")
    return json.loads(meta.read_text("utf-8")) if meta.exists() else {}


def _is_synthetic(path: Path, sidecar: Mapping) -> bool:
    """The synthetic generator says so in the raw sidecar or in an index.json above."""
    if (sidecar.get("origin") or {}).get("synthetic"):
        return True
    for parent in path.parents:
        index = parent / "index.json"
        if index.exists():
            entries = json.loads(index.read_text("utf-8"))
            key = path.relative_to(parent).as_posix()
            return bool(isinstance(entries, dict) and entries.get(key, {}).get("synthetic"))
    return False


def load_observations(roots: Iterable[Path],
                      skipped: list[str] | None = None) -> list[Observation]:
    """Every JSON answer under the roots whose ``data.parent`` carries CLGQ's parameters:
    the samples (period and scope from manifest.json or the file name) or a raw capture
    store (from each capture's sidecar).

    A parent missing a parameter, or with a non-numeric one, is an error naming the file,
    period, unit and field. Synthetic captures are left out (their paths go to
    ``skipped``): their CLGQ scores are invented."""
    found: list[Observation] = []
    seen: set[tuple] = set()  # the same answer under two roots (samples, raw) counts once
    for root in roots:
        root = Path(root)
        payloads = _manifest_payloads(root)
        for path in sorted(root.rglob("*.json")):
            try:
                body = json.loads(path.read_text("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            data = body.get("data") if isinstance(body, dict) else None
            parent = data.get("parent") if isinstance(data, dict) else None
            if not isinstance(parent, dict) or "authorityCount" not in parent:
                continue
            rel = path.relative_to(root).as_posix()
            sidecar = _sidecar(path)
            period, scope = _period_scope(path, payloads.get(rel) or sidecar.get("payload"))
            unit = str(parent.get("departmentCode") or parent.get("departmentId") or "?")
            where = f"{path}: period {period}, unit {unit}"
            if _is_synthetic(path, sidecar):
                if skipped is not None:
                    skipped.append(str(path))
                continue
            params: dict[str, float] = {}
            for name in (*PARAMETERS, "totalScore"):
                value = parent.get(name)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{where}: parent.{name} is {value!r}, expected a number")
                params[name] = float(value)
            # labels may be missing (a replay file has no payload): compare the numbers
            key = (unit, tuple(sorted(params.items())))
            if key in seen:
                continue
            seen.add(key)
            children = data.get("children") or []
            with_params = sum(1 for c in children if any(p in c for p in PARAMETERS))
            child_scores = tuple((str(c.get("level")), float(c["totalScore"]))
                                 for c in children
                                 if isinstance(c.get("totalScore"), int | float))
            found.append(Observation(rel, period, scope, unit, params.pop("totalScore"),
                                     params, len(children), with_params, child_scores))
    return found


# --- ratios named after the metric table's rows (reference/metrics.json) -------------

def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def ratios(p: Mapping[str, float]) -> dict[str, float | None]:
    """A: procedures with online dossiers / online services (the portal's own
    ``onlineDossierPct`` in monthlyChart is 100·A); B: online / all dossiers by channel
    (row 10); C: online dossiers handled on time; P: procedures provided online, partly or
    fully, / procedures in the authority's scope (row 8); F: fully online / in scope
    (row 7); Q: partly online / in scope."""
    auth = p["authorityCount"]
    return {
        "A": _ratio(p["onlineDossierCount"], p["onlineServiceTotal"]),
        "B": _ratio(p["channelOnlineSum"], p["channelTotalSum"]),
        "C": _ratio(p["onlineOnTimeSum"], p["channelOnlineSum"]),
        "P": _ratio(p["partialCount"] + p["fullCount"], auth),
        "F": _ratio(p["fullCount"], auth),
        "Q": _ratio(p["partialCount"], auth),
    }


def capped(max_score: float, ratio: float, threshold: float = 1.0) -> float:
    """The index's threshold rule: full marks at the threshold, linear below it."""
    return min(max_score, max_score * ratio / threshold)


@dataclass(frozen=True)
class Hypothesis:
    code: str
    formula: str
    reading: str       # where it comes from in the metric table
    choices: str       # what was chosen to make it fit, honestly counted
    fitted: int        # numbers chosen by looking at the observations
    score: Callable[[Mapping[str, float]], float | None]


def _needs(*keys: str):
    def wrap(fn):
        def score(p):
            r = ratios(p)
            return None if any(r[k] is None for k in keys) else fn(r)
        return score
    return wrap


HYPOTHESES: tuple[Hypothesis, ...] = (
    Hypothesis(
        "H1", "12·B",
        "row 6 (max 12) read as online dossiers / dossiers received",
        "none: the maximum and the ratio are the table's", 0,
        _needs("B")(lambda r: MAX_SCORE * r["B"])),
    Hypothesis(
        "H2", "12·A",
        "row 6 (max 12) read as onlineDossierCount / onlineServiceTotal",
        "none", 0,
        _needs("A")(lambda r: MAX_SCORE * r["A"])),
    Hypothesis(
        "H3", "3·A + 3·F + 3·P + 3·B",
        "rows 6, 7, 8 and 10 with the 12 points split evenly (the table gives no maxima)",
        "the even split", 0,
        _needs("A", "F", "P", "B")(lambda r: 3 * (r["A"] + r["F"] + r["P"] + r["B"]))),
    Hypothesis(
        "H4", "4·A + 8",
        "the A term alone; the other 8 points never lost",
        "the slope 4 (the 8 follows from the maximum)", 1,
        _needs("A")(lambda r: 4 * r["A"] + 8)),
    Hypothesis(
        "H5", "4·A + min(2, 2·P/0.8) + 6",
        "A term plus row 8 (P) with a threshold of 80 %; the other 6 points never lost",
        "three numbers: the slope 4, the maximum 2, the threshold 0.8; one choice: the "
        "ratio P (of P, F, Q, B, C); the 6 follows from the maximum", 3,
        _needs("A", "P")(lambda r: 4 * r["A"] + capped(2, r["P"], 0.8) + 6)),
)
DOCUMENTED = "H5"


def hypothesis(code: str) -> Hypothesis:
    return next(h for h in HYPOTHESES if h.code == code)


@dataclass(frozen=True)
class Fit:
    hypothesis: Hypothesis
    rows: list[tuple[Observation, float | None]]

    @property
    def n(self) -> int:
        return sum(1 for _, v in self.rows if v is not None)

    @property
    def max_error(self) -> float:
        errors = [abs(v - o.score) for o, v in self.rows if v is not None]
        return max(errors) if errors else float("inf")

    @property
    def reproduces(self) -> bool:
        return self.n == len(self.rows) and self.max_error <= TOLERANCE


def fit(h: Hypothesis, observations: list[Observation]) -> Fit:
    return Fit(h, [(o, h.score(o.params)) for o in observations])


def distinct(observations: list[Observation], *keys: str) -> int:
    """How many different values the named ratios take: what the data can pin down."""
    return len({tuple(round(ratios(o.params)[k] or -1, 9) for k in keys)
                for o in observations})


def slope_estimates(observations: list[Observation]) -> dict[str, float]:
    """Per period, the A slope the province and the procedure imply if everything else in
    the score is the same for both (it is: P, F, Q do not change with the procedure
    filter): (score_formality − score_all) / (A_formality − A_all)."""
    by_period: dict[str, dict[str, Observation]] = {}
    for o in observations:
        by_period.setdefault(o.period, {})[o.scope] = o
    out = {}
    for period, pair in by_period.items():
        if {"all", "formality"} <= pair.keys():
            a_all, a_one = (ratios(pair[s].params)["A"] for s in ("all", "formality"))
            if a_all is not None and a_one is not None and a_one != a_all:
                out[period] = (pair["formality"].score - pair["all"].score) / (a_one - a_all)
    return out


def children_summary(observations: list[Observation]) -> dict[tuple[str, str], dict]:
    """The units' scores by (scope, level): the only CLGQ the portal gives per unit."""
    out: dict[tuple[str, str], dict] = {}
    for o in observations:
        for level, score in o.child_scores:
            row = out.setdefault((o.scope, level), {"n": 0, "min": score, "max": score,
                                                    "zero": 0, "below_6": 0})
            row["n"] += 1
            row["min"], row["max"] = min(row["min"], score), max(row["max"], score)
            row["zero"] += score == 0
            row["below_6"] += 0 < score < 6
    return out


def grid(observations: list[Observation], tolerance: float) -> list[tuple]:
    """Every round-number variant of H5 within tolerance: a·A + m·min(1, r/T) + (12−a−m)
    with a, m in halves, r one of P, F, Q, B, C and T in 0.50 … 1.00 by 0.05. Shows how
    many equally simple formulas the observations cannot tell apart."""
    hits = []
    all_ratios = [(o, ratios(o.params)) for o in observations]
    for a in (x / 2 for x in range(1, 25)):
        for key in "PFQBC":
            for m in (x / 2 for x in range(1, 25)):
                if a + m > MAX_SCORE:
                    continue
                for t in (x / 100 for x in range(50, 101, 5)):
                    err = max(abs(a * r["A"] + capped(m, r[key], t) + MAX_SCORE - a - m
                                  - o.score) for o, r in all_ratios)
                    if err <= tolerance:
                        hits.append((a, key, m, t, round(err, 4)))
    return hits


# --- quarter and year: pooled over the period, or the mean of its months? ---------------

@dataclass(frozen=True)
class PeriodCheck:
    group: str
    source: str
    portal: float
    pooled: float      # the formula on the period's own parameters
    chart_mean: float  # the formula on the mean of the months in its monthlyChart
    months: int


def period_checks(root: Path) -> list[PeriodCheck]:
    """TDGQ and CLGQ carry a monthlyChart with each month's ratio; score the quarter and
    year from (a) their own parameters and (b) the mean of the chart's months."""
    checks = []
    for period in ("quarter", "year"):
        path = root / "dvc-progress-tree" / f"{period}-all.json"
        data = json.loads(path.read_text("utf-8"))["data"]
        p = data["parent"]
        pcts = [m["onTimePct"] for m in data["monthlyChart"]
                if m["onTimePct"] or m["overduePct"]]
        checks.append(PeriodCheck(
            "TDGQ", path.relative_to(root).as_posix(), float(p["totalScore"]),
            20 * p["totalOnTime"] / p["totalReceived"],
            20 * statistics.mean(pcts) / 100, len(pcts)))
        path = root / "provide-online-tree" / f"{period}-all.json"
        data = json.loads(path.read_text("utf-8"))["data"]
        p = data["parent"]
        pcts = [m["onlineDossierPct"] for m in data["monthlyChart"] if m["onlineDossierPct"]]
        h = hypothesis(DOCUMENTED)
        r = ratios(p)
        rest = capped(2, r["P"], 0.8) + 6
        checks.append(PeriodCheck(
            "CLGQ", path.relative_to(root).as_posix(), float(p["totalScore"]),
            h.score(p), 4 * statistics.mean(pcts) / 100 + rest, len(pcts)))
    return checks


# --- output ------------------------------------------------------------------------------

def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.4f}"


def render_text(observations: list[Observation], root: Path | None = None) -> str:
    lines = [f"CLGQ observations: n = {len(observations)} "
             f"(children with parameters: {sum(o.children_with_parameters for o in observations)}"
             f" of {sum(o.children for o in observations)})"]
    for o in observations:
        r = ratios(o.params)
        lines.append(f"  {o.source:45} {o.period:7} {o.scope:9} score {o.score:5.2f}  "
                     + " ".join(f"{k}={_fmt(v)}" for k, v in r.items()))
    lines.append(f"distinct A values: {distinct(observations, 'A')}; distinct procedure-count"
                 f" states (P, F, Q): {distinct(observations, 'P', 'F', 'Q')}")
    slopes = ", ".join(f"{k} {v:.3f}" for k, v in slope_estimates(observations).items())
    lines.append(f"A slope implied by each (all, formality) pair: {slopes}")
    for h in HYPOTHESES:
        f = fit(h, observations)
        verdict = "REPRODUCES" if f.reproduces else "fails"
        lines.append(f"\n{h.code}  {h.formula}   [{h.reading}]")
        lines.append(f"    numbers fitted: {h.fitted} ({h.choices}); n = {f.n}; "
                     f"max error {f.max_error:.4f} -> {verdict} at {TOLERANCE}")
        for o, v in f.rows:
            err = "" if v is None else f"{v - o.score:+.4f}"
            lines.append(f"    {o.source:45} portal {o.score:5.2f}  computed {_fmt(v)}  {err}")
    lines.append("\nunits' scores (children carry nothing else), by scope and level:")
    for (scope, level), r in sorted(children_summary(observations).items()):
        lines.append(f"    {scope:9} {level:9} n {r['n']:4}  min {r['min']:5.2f}  "
                     f"max {r['max']:5.2f}  zero {r['zero']:3}  in (0, 6) {r['below_6']}")
    for tol in (ROUNDING, TOLERANCE):
        hits = grid(observations, tol)
        lines.append(f"\nround-number variants of H5 within {tol}: {len(hits)}")
        lines.extend(f"    {a}·A + min({m}, {m}·{k}/{t}) + {MAX_SCORE - a - m:g}   max error {e}"
                     for a, k, m, t, e in hits)
    if root is not None and (root / "dvc-progress-tree" / "year-all.json").exists():
        lines.append("\nquarter/year: own parameters vs mean of the months in monthlyChart")
        for c in period_checks(root):
            lines.append(f"    {c.group} {c.source:32} portal {c.portal:5.2f}  pooled "
                         f"{c.pooled:.4f}  mean of {c.months} months {c.chart_mean:.4f}")
    return "\n".join(lines)


def render_markdown(observations: list[Observation]) -> str:
    """The observation table docs/index.md quotes (a test keeps the two equal)."""
    hs = HYPOTHESES
    out = ["| observation | A | P | portal | " + " | ".join(h.code for h in hs) + " |",
           "|---|---:|---:|---:|" + "---:|" * len(hs)]
    fits = [fit(h, observations) for h in hs]
    for i, o in enumerate(observations):
        r = ratios(o.params)
        cells = [_fmt(f.rows[i][1]) for f in fits]
        name = f"{o.period} {o.scope}"
        out.append(f"| {name} | {r['A']:.4f} | {r['P']:.4f} | {o.score:.2f} | "
                   + " | ".join(cells) + " |")
    out.append("| **max error** | | | | "
               + " | ".join(f"**{f.max_error:.4f}**" for f in fits) + " |")
    out.append("| numbers fitted | | | | " + " | ".join(str(h.fitted) for h in hs) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path, default=[DEFAULT_ROOT])
    parser.add_argument("--markdown", action="store_true",
                        help="print the observation table docs/index.md quotes")
    args = parser.parse_args(argv)
    skipped: list[str] = []
    observations = load_observations(args.roots, skipped)
    if skipped:
        print(f"left out {len(skipped)} synthetic capture(s)")
    if not observations:
        parser.error("no real provide-online-tree parent with CLGQ parameters found")
    if args.markdown:
        print(render_markdown(observations))
    else:
        print(render_text(observations, args.roots[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
