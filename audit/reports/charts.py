"""The report's inline SVG charts as geometry: the templates draw what these functions measure.

Kept apart from the markup so the choices a reader notices (which x labels
fit, which y ticks are labelled, where the last label may go without being
cut) are plain arithmetic that a test can pin.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

DAYS_WIDTH, DAYS_HEIGHT = 820, 210
DAYS_LEFT, DAYS_RIGHT, DAYS_TOP, DAYS_BOTTOM = 52, 12, 12, 34
LABEL_PX = 78    # room an x label ("2026-11-30" at 12 px) needs, in viewBox units
BAR_ROW, BAR_LABEL, BAR_WIDTH = 22, 210, 290
BAR_LABEL_CHARS = 26  # longer labels are shortened (the full one is in the tooltip)


def nice_ticks(top: int, target: int = 4) -> list[int]:
    """0 up to the first round value at or above `top`, in about `target` steps of 1, 2 or 5 × 10^k."""
    if top <= 0:
        return [0, 1]
    raw = top / target
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return list(range(0, step * math.ceil(top / step) + 1, step))


def day_buckets(days: dict[str, int]) -> tuple[str, list[tuple[str, int]]]:
    """(title, buckets): every day from the first to the last, zeros included; months when that is long."""
    if not days:
        return "Violations per local day", []
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    if (last - first).days <= 400:
        return "Violations per local day", [
            ((first + timedelta(n)).isoformat(), days.get((first + timedelta(n)).isoformat(), 0))
            for n in range((last - first).days + 1)]
    months: dict[str, int] = {}
    for d, n in days.items():
        months[d[:7]] = months.get(d[:7], 0) + n
    ordered = sorted(months)
    y, m = map(int, ordered[0].split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= ordered[-1]:
        key = f"{y:04d}-{m:02d}"
        out.append((key, months.get(key, 0)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return "Violations per local month", out


def day_chart(title: str, buckets: list[tuple[str, int]]) -> dict:
    """Bars, labelled y ticks with grid lines, and x labels that neither overlap nor run off the edge.

    The first label is anchored at its start and the last at its end, so
    neither is cut by the viewBox; the labels between keep LABEL_PX apart.
    """
    if not buckets:
        return {"title": title, "empty": True}
    plot_w = DAYS_WIDTH - DAYS_LEFT - DAYS_RIGHT
    plot_h = DAYS_HEIGHT - DAYS_TOP - DAYS_BOTTOM
    ticks = nice_ticks(max(n for _, n in buckets))
    scale = ticks[-1]
    step = plot_w / len(buckets)
    base = DAYS_TOP + plot_h
    bars = [{"x": DAYS_LEFT + i * step + step * 0.1, "y": base - plot_h * n / scale, "w": max(step * 0.8, 0.5),
             "h": plot_h * n / scale, "label": label, "n": n} for i, (label, n) in enumerate(buckets)]
    y_ticks = [{"y": base - plot_h * t / scale, "label": f"{t:,}"} for t in ticks]
    # an edge label (start- or end-anchored) spans LABEL_PX from the edge; a middle one half each side
    every = max(1, math.ceil(1.5 * LABEL_PX / step))
    last = len(buckets) - 1
    x_labels = []
    for i, (label, _) in enumerate(buckets):
        if i == last or (i % every == 0 and (last + 0.5 - i) * step >= 1.5 * LABEL_PX):
            anchor = "end" if i == last and i else "start" if i == 0 else "middle"
            x = DAYS_LEFT + plot_w if anchor == "end" else DAYS_LEFT + i * step if anchor == "start" \
                else DAYS_LEFT + (i + 0.5) * step
            x_labels.append({"x": x, "anchor": anchor, "label": label})
    return {"title": title, "empty": False, "width": DAYS_WIDTH, "height": DAYS_HEIGHT, "left": DAYS_LEFT,
            "right": DAYS_LEFT + plot_w, "base": base, "label_y": DAYS_HEIGHT - 12, "bars": bars,
            "y_ticks": y_ticks, "x_labels": x_labels}


def bar_chart(title: str, items: list[tuple[str, int, str]]) -> dict:
    """Horizontal bars: (label, value, colour) per row; long labels shortened, the full one in a tooltip."""
    if not items:
        return {"title": title, "empty": True}
    top = max(v for _, v, _ in items) or 1
    rows = [{"y": i * BAR_ROW + 2, "label": label, "short": label if len(label) <= BAR_LABEL_CHARS else label[:BAR_LABEL_CHARS - 1] + "…",
             "w": max(1, round(BAR_WIDTH * value / top)) if value else 0, "n": value, "colour": colour}
            for i, (label, value, colour) in enumerate(items)]
    return {"title": title, "empty": False, "rows": rows, "label_w": BAR_LABEL, "row_h": BAR_ROW,
            "width": BAR_LABEL + BAR_WIDTH + 70, "height": BAR_ROW * len(items) + 4}
