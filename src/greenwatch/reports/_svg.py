"""Static SVG charts for reports, drawn directly (no browser, byte-stable for the same data).

Plotly's static export needs a headless Chromium (Kaleido): 1.5-3 s to start per process, which
alone would miss the 2 s budget of a monthly report; three chart kinds do not need it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 680, 250
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
PALETTE = ("#1b6ca8", "#e07b39", "#3a9d5d", "#8e5ea2", "#c23b3b", "#7f7f7f")
Series = tuple[str, Sequence[float], str]  # (name, values, colour)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        lo, hi = lo - 0.5 if lo == hi else hi, hi + 0.5
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks: list[float] = []
    k = 0
    while first + k * step <= hi + step * 1e-9 or len(ticks) < 2:
        ticks.append(round(first + k * step, 10))
        k += 1
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _text(
    x: float, y: float, text: str, anchor: str = "start", size: int = 10, **extra: str
) -> str:
    attrs = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{attrs}>'
        f"{escape(text)}</text>"
    )


def _frame(title: str, body: list[str], height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}" role="img" '
        f'aria-label="{escape(title)}">'
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>'
        + _text(8, 16, title, size=12, font_weight="bold")
        + "".join(body)
        + "</svg>"
    )


def _legend(
    items: Sequence[tuple[str, str]], x: float, y: float, dashed: bool = False
) -> list[str]:
    out = []
    for name, colour in items:
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        out.append(
            f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 16:.1f}" y2="{y - 4:.1f}" '
            f'stroke="{colour}" stroke-width="3"{dash}/>'
        )
        out.append(_text(x + 20, y, name))
        x += 28 + 6.2 * len(name)
    return out


def _broken_line(points: Sequence[str | None], colour: str) -> list[str]:
    """A line through ``x,y`` points, broken where a point is None; a lone point is a dot."""
    runs: list[list[str]] = [[]]
    for point in points:
        if point is not None:
            runs[-1].append(point)
        elif runs[-1]:
            runs.append([])
    out = []
    for run in runs:
        if len(run) == 1:
            x, y = run[0].split(",")
            out.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{colour}"/>')
        elif run:
            out.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                f'stroke-width="2"/>'
            )
    return out


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    target: float | None = None,
    target_label: str = "target",
    y_label: str = "",
) -> str:
    """Lines over categorical x positions (e.g. days); gaps (nan) break a line."""
    left, right, top, bottom = 56, 16, 40, HEIGHT - 44
    values = [v for _, vs, _ in series for v in vs if math.isfinite(v)]
    if target is not None:
        values.append(target)
    ticks = nice_ticks(min(values, default=0.0), max(values, default=1.0))
    lo, hi = ticks[0], ticks[-1]
    n = max(len(labels), 1)

    def px(i: int) -> float:
        return left + (right_edge - left) * (i + 0.5) / n

    def py(v: float) -> float:
        return bottom - (bottom - top) * (v - lo) / (hi - lo)

    right_edge = WIDTH - right
    body = [_text(12, top - 8, y_label, size=9, fill="#555")] if y_label else []
    for t in ticks:
        body.append(
            f'<line x1="{left}" y1="{py(t):.1f}" x2="{right_edge}" y2="{py(t):.1f}" '
            f'stroke="#e3e3e3"/>'
        )
        body.append(_text(left - 6, py(t) + 3, f"{t:g}", anchor="end", size=9))
    every = max(1, math.ceil(n / 12))
    for i, label in enumerate(labels):
        if i % every == 0:
            body.append(_text(px(i), bottom + 14, label, anchor="middle", size=9))
    if target is not None:
        body.append(
            f'<line x1="{left}" y1="{py(target):.1f}" x2="{right_edge}" y2="{py(target):.1f}" '
            f'stroke="#c23b3b" stroke-width="1.5" stroke-dasharray="6,4"/>'
        )
    for _, vs, colour in series:
        points = [
            f"{px(i):.1f},{py(v):.1f}" if math.isfinite(v) else None for i, v in enumerate(vs)
        ]
        body += _broken_line(points, colour)
    legend = [(name, colour) for name, _, colour in series]
    body += _legend(legend, left, HEIGHT - 10)
    if target is not None:
        body += _legend([(target_label, "#c23b3b")], WIDTH - 190, HEIGHT - 10, dashed=True)
    return _frame(title, body, HEIGHT)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool,
    unit: str,
) -> str:
    """Horizontal bars per category: stacked (parts of a whole) or grouped side by side."""
    left, right, top = 120, 20, 34
    row = 18 if stacked else 8 + 10 * len(series)
    height = top + row * max(len(categories), 1) + 44
    bottom = height - 40
    totals = [
        sum(max(0.0, s[1][i]) for s in series) if stacked else max(s[1][i] for s in series)
        for i in range(len(categories))
    ]
    finite = [t for t in totals if math.isfinite(t)]
    ticks = nice_ticks(0.0, max(finite, default=1.0) or 1.0)
    hi = ticks[-1]
    right_edge = WIDTH - right

    def px(v: float) -> float:
        return left + (right_edge - left) * v / hi

    body = []
    for t in ticks:
        body.append(
            f'<line x1="{px(t):.1f}" y1="{top}" x2="{px(t):.1f}" y2="{bottom}" stroke="#e3e3e3"/>'
        )
        body.append(_text(px(t), bottom + 12, _fmt(t), anchor="middle", size=9))
    body.append(_text(right_edge, bottom + 24, unit, anchor="end", size=9, fill="#555"))
    for i, name in enumerate(categories):
        y = top + i * row
        body.append(_text(left - 6, y + row / 2 + 3, name, anchor="end", size=9))
        x0 = 0.0
        for k, (_, vs, colour) in enumerate(series):
            v = max(0.0, vs[i]) if math.isfinite(vs[i]) else 0.0
            if stacked:
                body.append(
                    f'<rect x="{px(x0):.1f}" y="{y + 3:.1f}" width="{px(x0 + v) - px(x0):.1f}" '
                    f'height="{row - 6}" fill="{colour}"/>'
                )
                x0 += v
            else:
                body.append(
                    f'<rect x="{left}" y="{y + 4 + 10 * k:.1f}" width="{px(v) - left:.1f}" '
                    f'height="9" fill="{colour}"/>'
                )
    body += _legend([(name, colour) for name, _, colour in series], left, height - 8)
    return _frame(title, body, height)
