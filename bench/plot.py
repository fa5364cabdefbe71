"""The measured curves: one PNG from every figure kept by ``python -m bench.run --record``.

    python -m bench.plot                      # redraw docs/img/scaling.png from bench/results/
"""

import json
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT / "bench" / "results"  # python -m bench.run --record writes days-N.json here
PLOT = PROJECT / "docs" / "img" / "scaling.png"
STAGES = (("parse_s", "parse"), ("gx_s", "GX validation"), ("load_s", "load"),
          ("marts_s", "marts"))


def _load(results: Path) -> list[dict]:
    runs = [json.loads(p.read_text("utf-8")) for p in results.glob("days-*.json")]
    return sorted(runs, key=lambda r: r["days"])


def plot(results: Path, target: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    runs = _load(results)
    if not runs:
        raise ValueError(f"no recorded figures in {results}")
    days = [r["days"] for r in runs]
    labels = [f"{d} d\n{r['mb_parsed']:.0f} MB" for d, r in zip(days, runs, strict=True)]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))

    ax = axes[0][0]
    mb = [r["mb_parsed"] for r in runs]
    for key, label, style in (("pipeline_s", "pipeline (raw → marts)", "o-"),
                              ("floor_s", "DuckDB read_json floor", "s--"),
                              ("naive_s_est", "naive loader (extrapolated)", "^:")):
        ax.plot(mb, [r[key] for r in runs], style, label=label)
    ax.set(xscale="log", yscale="log", xlabel="MB parsed (latest session of each month)",
           ylabel="seconds", title="Rebuild time (1, 30 days: one month; 365: twelve)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[0][1]
    bottom = [0.0] * len(runs)
    for key, label in STAGES:
        values = [r[key] for r in runs]
        ax.bar(range(len(runs)), values, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.plot(range(len(runs)), [r["floor_s"] for r in runs], "k_", markersize=30,
            markeredgewidth=2, label="floor")
    ax.set_xticks(range(len(runs)), labels)
    ax.set(ylabel="seconds", title="Where the rebuild's time goes")
    ax.legend(fontsize=8)

    ax = axes[1][0]
    ax.plot(mb, [r["pipeline_peak_rss_mb"] for r in runs], "o-", label="pipeline")
    ax.plot(mb, [r["floor_peak_rss_mb"] for r in runs], "s--", label="floor")
    ax.axhline(2048, color="red", linestyle=":", label="2 GiB target")
    ax.set(xscale="log", xlabel="MB parsed", ylabel="MB", title="Peak RSS of the rebuild")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[1][1]
    nights = [(i, r["nightly"]) for i, r in enumerate(runs) if r.get("nightly")]
    width = 0.25
    for j, (key, label) in enumerate((("first", "first night"), ("nothing_new", "nothing new"),
                                      ("new_day", "one new day"))):
        ax.bar([i + (j - 1) * width for i, _ in nights],
               [n[key]["wall_s"] - n["startup_run_s"] for _, n in nights], width, label=label)
    ax.axhline(10, color="red", linestyle=":", label="10 s target (nothing new)")
    ax.set_xticks([i for i, _ in nights], [labels[i] for i, _ in nights])
    ax.set(ylabel="seconds beyond Dagster start-up",
           title="Nightly refresh_months (2 months), warehouse of that size")
    ax.legend(fontsize=8)

    for ax in (axes[0][0], axes[1][0]):
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.suptitle("chiso766 benchmark (2 shared cores); x: days of nightly captures kept")
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def main() -> int:
    print(plot(RESULTS, PLOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
