"""Small self-contained SVG charts in one HTML page (no plotly/matplotlib, opens offline)."""

from __future__ import annotations

import html
from collections.abc import Sequence

WIDTH, HEIGHT, PAD = 640, 360, 56


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    span = high - low or 1.0
    return start + (value - low) / span * (end - start)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def line_chart(
    title: str,
    points: Sequence[tuple[float, float]],
    line: Sequence[tuple[float, float]] = (),
    *,
    x_label: str = "",
    y_label: str = "",
    legend: tuple[str, str] = ("trial", "best so far"),
) -> str:
    """An SVG scatter of `points` with an optional step line (e.g. best value so far)."""
    every = [*points, *line]
    if not every:
        return f"<p>{html.escape(title)}: no finished trials yet.</p>"
    xs, ys = [p[0] for p in every], [p[1] for p in every]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if y0 == y1:  # a flat series still needs a visible band
        y0, y1 = y0 - 0.5 * (abs(y0) or 1) * 0.01, y1 + 0.5 * (abs(y1) or 1) * 0.01

    def at(x: float, y: float) -> str:
        px = _scale(x, x0, x1, PAD, WIDTH - PAD / 2)
        py = _scale(y, y0, y1, HEIGHT - PAD, PAD / 2)
        return f"{px:.1f},{py:.1f}"

    parts = [_frame(title, x_label, y_label)]
    parts += [_tick(x0, x1, y0, y1)]
    if line:
        steps = []
        for (xa, ya), (xb, _) in zip(line, [*line[1:], line[-1]], strict=True):
            steps += [at(xa, ya), at(xb, ya)]
        parts.append(f'<polyline fill="none" stroke="#d62728" stroke-width="2" points="{" ".join(steps)}"/>')
    for x, y in points:
        cx, cy = at(x, y).split(",")
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="4" fill="#1f77b4"><title>{_fmt(x)}: {_fmt(y)}</title></circle>'
        )
    parts.append(
        f'<text x="{WIDTH - PAD}" y="{PAD / 2 - 6}" text-anchor="end" font-size="11">'
        f'<tspan fill="#1f77b4">● {html.escape(legend[0])}</tspan>'
        f'<tspan fill="#d62728" dx="12">— {html.escape(legend[1])}</tspan></text>'
    )
    return _svg(parts)


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, x_label: str = "") -> str:
    """An SVG horizontal bar chart, one bar per (label, value >= 0)."""
    if not bars:
        return f"<p>{html.escape(title)}: nothing to show.</p>"
    height = PAD + 28 * len(bars) + PAD / 2
    top = max(v for _, v in bars) or 1.0
    left = 220
    parts = [_frame(title, x_label, "", height=height)]
    for i, (label, value) in enumerate(bars):
        y = PAD / 2 + 12 + 28 * i
        w = (WIDTH - left - PAD) * max(value, 0.0) / top
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12">{html.escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="20" fill="#1f77b4"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 14}" font-size="11">{_fmt(value)}</text>'
        )
    return _svg(parts, height=height)


def _frame(title: str, x_label: str, y_label: str, *, height: float = HEIGHT) -> str:
    return (
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{html.escape(title)}</text>"
        f'<text x="{WIDTH / 2}" y="{height - 8}" text-anchor="middle" font-size="12">'
        f"{html.escape(x_label)}</text>"
        f'<text x="14" y="{height / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {height / 2})">{html.escape(y_label)}</text>'
    )


def _tick(x0: float, x1: float, y0: float, y1: float) -> str:
    bottom, right = HEIGHT - PAD, WIDTH - PAD / 2
    return (
        f'<line x1="{PAD}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>'
        f'<line x1="{PAD}" y1="{PAD / 2}" x2="{PAD}" y2="{bottom}" stroke="#333"/>'
        f'<text x="{PAD}" y="{bottom + 16}" font-size="11" text-anchor="middle">{_fmt(x0)}</text>'
        f'<text x="{right}" y="{bottom + 16}" font-size="11" text-anchor="middle">{_fmt(x1)}</text>'
        f'<text x="{PAD - 4}" y="{bottom}" font-size="11" text-anchor="end">{_fmt(y0)}</text>'
        f'<text x="{PAD - 4}" y="{PAD / 2 + 4}" font-size="11" text-anchor="end">{_fmt(y1)}</text>'
    )


def _svg(parts: list[str], *, height: float = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
        f'font-family="sans-serif">{"".join(parts)}</svg>'
    )


def html_page(title: str, *blocks: str) -> str:
    """One standalone HTML page holding the given SVG/HTML blocks."""
    body = "\n".join(f"<section>{b}</section>" for b in blocks)
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}section{margin-bottom:2em}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
