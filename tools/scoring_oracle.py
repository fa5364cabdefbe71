"""The scoring arithmetic in Python: a test oracle, not the pipeline's formula.

The pipeline scores in SQL, in one place: the ``marts.rule_score`` macro fed from
ref.metrics. This second, independent form is what the tests hold that macro to
(tests/test_recomputation.py), what reproduces the portal's published scores on every
real captured unit within 0.01 (tests/test_scoring.py), and what the stand-in portal
(tools/synthetic.py) scores its answers with. Nothing under assets/ imports it (a test
says so). CLGQ has no published formula: ``clgq_score`` is the formula fitted on the real
captures (tools/clgq_fit.py, hypothesis H5), the same as the ``marts.clgq_score`` macro.
"""

from assets.domain.catalogue import METRICS, Metric


def ratio_pct(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return 100.0 * numerator / denominator


def metric_score(metric: Metric | str, numerator: float | None,
                 denominator: float | None) -> float | None:
    """The metric's score from its counts, unrounded; None where the portal says null."""
    m = METRICS[metric] if isinstance(metric, str) else metric
    if m.rule == "tracking":
        return None
    r = ratio_pct(numerator, denominator)
    if m.rule in ("linear", "threshold"):
        if r is None:
            return m.score_if_empty
        full_at = m.threshold if m.rule == "threshold" else 100.0
        return min(m.max_score, m.max_score * r / full_at)
    raise ValueError(f"metric {m.code} ({m.rule}) has no count formula")


def tree_metric_score(metric: Metric | str, params: dict[str, float | None]) -> float | None:
    """A tree-endpoint metric (TDGQ, TTTT terms) scored from a unit's raw parameters."""
    m = METRICS[metric] if isinstance(metric, str) else metric
    return metric_score(m, params.get(m.numerator_param), params.get(m.denominator_param))


def group_score_from_params(group_code: str, params: dict[str, float | None]) -> float:
    """TDGQ or TTTT for one unit: the sum of its metrics' scores."""
    return sum(tree_metric_score(m, params) or 0.0
               for m in METRICS.values() if m.group_code == group_code and m.numerator_param)


def points_lost(max_score: float, score: float | None) -> float:
    """A null score (zero denominator) earns nothing, so the whole maximum is lost."""
    return max_score - (score or 0.0)


def tdgq_score(total_on_time: float, total_received: float) -> float:
    return group_score_from_params("TDGQ", {"totalOnTime": total_on_time,
                                            "totalReceived": total_received})


def tttt_score(params: dict[str, float | None]) -> float:
    return group_score_from_params("TTTT", params)


def clgq_score(params: dict[str, float | None]) -> float | None:
    """CLGQ from a provide-online-tree parent's raw parameters, unrounded: the FITTED
    formula 4·A + min(2, 2·P/0.8) + 6 (A = onlineDossierCount / onlineServiceTotal,
    P = (partialCount + fullCount) / authorityCount), not a published one. None when a
    parameter is missing or a denominator is 0 (never observed: unknown, not 0)."""
    names = ("authorityCount", "partialCount", "fullCount", "onlineDossierCount",
             "onlineServiceTotal")
    auth, partial, full, online, services = (params.get(n) for n in names)
    if None in (auth, partial, full, online, services) or not auth or not services:
        return None
    return 4.0 * online / services + min(2.0, 2.0 * (partial + full) / auth / 0.8) + 6.0
