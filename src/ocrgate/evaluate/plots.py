"""The report's speed vs accuracy plots: one point per page per backend, one metric per axis.

Seconds per page (the request's wall clock, log scale) against the page's CER in one plot and against
its olmOCR-Bench pass rate in another, so a rate is never drawn on the same axis as an error. Each
backend also gets its mean as one larger hollow marker. PNGs (matplotlib, Agg), base64 for data URIs.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

from ocrgate.evaluate.summary import PageScore, Summary

#: per-page CER above this is drawn at it (CER can exceed 1 when the output is longer than the truth)
CER_CLIP = 1.0
_MARKERS = "os^Dv<>pP*Xh"


def _png(fig: object) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buffer.getvalue()).decode()


def _scatter(
    summary: Summary, value: Callable[[PageScore], float | None], ylabel: str, top: float
) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    points = {
        name: [
            (p.seconds, v)
            for p in summary.pages
            if p.backend == name and p.ok and (v := value(p)) is not None
        ]
        for name in summary.backends
    }
    if not any(points.values()):
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for number, (name, xy) in enumerate(points.items()):
        if not xy:
            continue
        colour = f"C{number % 10}"
        marker = _MARKERS[number % len(_MARKERS)]
        xs = [max(x, 1e-3) for x, _ in xy]
        ys = [min(y, top) for _, y in xy]
        ax.scatter(xs, ys, s=22, alpha=0.6, color=colour, marker=marker, label=f"{name} ({len(xy)} pages)")
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        ax.scatter(mean_x, mean_y, s=160, facecolors="none", edgecolors=colour, linewidths=2, marker=marker)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("seconds per page (log scale; sequential, wall clock)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.03, top + 0.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="one point per page; large: mean", title_fontsize=8)
    png = _png(fig)
    plt.close(fig)
    return png


def speed_plots(summary: Summary) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for each plot that has points: seconds vs CER, seconds vs test pass rate."""
    plots = []
    cer = _scatter(
        summary,
        lambda p: p.cer,
        f"CER of the page (lower is better; above {CER_CLIP:g} drawn at {CER_CLIP:g})",
        CER_CLIP,
    )
    if cer:
        plots.append(("Seconds per page vs CER: lower left is fast and accurate", cer))
    tests = _scatter(
        summary, lambda p: p.test_pass_rate, "olmOCR-Bench tests passed on the page (higher is better)", 1.0
    )
    if tests:
        plots.append(("Seconds per page vs olmOCR-Bench pass rate: upper left is fast and accurate", tests))
    return plots
