"""The drift report as one offline HTML page: inline CSS and SVG, nothing fetched from a CDN."""

from __future__ import annotations

from html import escape
from typing import Any

COLORS = {"critical": "#c62828", "warning": "#ef6c00", "ok": "#2e7d32"}
REF, CUR = "#90a4ae", "#1e88e5"
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:2em}
.muted{color:#666} table{border-collapse:collapse;margin:1em 0}
td,th{border-bottom:1px solid #ddd;padding:.35em .8em;text-align:right}
th{background:#f5f5f5} td:first-child,th:first-child{text-align:left}
.badge{color:#fff;border-radius:3px;padding:.1em .5em;font-size:.85em}
.grid{display:flex;flex-wrap:wrap;gap:1.5em} .card{border:1px solid #ddd;border-radius:6px;padding:.8em}
.legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}
"""


def _badge(severity: str) -> str:
    return f'<span class="badge" style="background:{COLORS[severity]}">{severity}</span>'


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}"
    return escape(str(value))


def _bars(histogram: list[dict[str, Any]], ordered: bool = True, width: int = 420) -> str:
    """Reference vs current share per bin, as paired horizontal bars (unordered bins, i.e.
    categories: the 25 largest, largest first)."""
    top = max([max(h["reference"], h["current"]) for h in histogram] + [1e-9])
    if not ordered:
        histogram = sorted(histogram, key=lambda h: -max(h["reference"], h["current"]))
    rows = histogram[:25]
    label_w, bar_h, gap = 140, 7, 6
    height = len(rows) * (2 * bar_h + gap) + 4
    parts = [f'<svg width="{width}" height="{height}" role="img">']
    for i, h in enumerate(rows):
        y = i * (2 * bar_h + gap)
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h + 3}" font-size="10" '
                     f'text-anchor="end">{escape(h["bin"][:24])}</text>')
        for j, (key, color) in enumerate((("reference", REF), ("current", CUR))):
            w = (width - label_w - 50) * h[key] / top
            parts.append(f'<rect x="{label_w}" y="{y + j * bar_h}" width="{w:.1f}" height="{bar_h - 1}" '
                         f'fill="{color}"><title>{key} {h[key]:.1%}</title></rect>')
        end = label_w + (width - label_w - 50) * max(h["reference"], h["current"]) / top + 4
        parts.append(f'<text x="{end:.1f}" y="{y + bar_h + 3}" font-size="9" fill="#555">'
                     f'{h["current"]:.1%}</text>')
    parts.append("</svg>")
    if len(histogram) > len(rows):
        parts.append(f'<div class="muted">and {len(histogram) - len(rows)} more bins</div>')
    return "".join(parts)


def render(report: dict[str, Any]) -> str:
    """The whole page."""
    columns = report["columns"]
    order = sorted(columns, key=lambda n: (-float(columns[n].get("psi", 99)), n))
    drifted = report["drifted"]
    verdict = (f'{_badge("critical")} drift in {len(drifted)}: {escape(", ".join(drifted))}'
               if drifted else f'{_badge("ok")} no drift over the thresholds')
    t = report["thresholds"]
    rows = []
    for name in order:
        f = columns[name]
        if f.get("absent"):
            rows.append(f"<tr><td>{escape(name)}</td><td>{f['kind']}</td><td colspan=5>absent from the "
                        f"current data</td><td>{_badge(f['severity'])}</td></tr>")
            continue
        test = (f"KS {_num(f.get('ks'))} (p {_num(f.get('ks_p'))})" if f["kind"] == "numeric"
                else f"χ² V {_num(f.get('cramers_v'))} (p {_num(f.get('chi2_p'))})")
        extra = (f"W/σ {_num(f.get('wasserstein_std'))}" if f["kind"] == "numeric"
                 else f"new: {escape(', '.join(f['new_categories'][:5])) or '—'}")
        rows.append(f"<tr><td><a href='#{escape(name)}'>{escape(name)}</a></td><td>{f['kind']}</td>"
                    f"<td>{_num(f['psi'])}</td><td>{test}</td><td>{extra}</td>"
                    f"<td>{_num(f.get('reference_mean'))}</td><td>{_num(f.get('current_mean'))}</td>"
                    f"<td>{_badge(f['severity'])}</td></tr>")
    pred = report["prediction"]
    flags = report["flags"]
    cards = [f"<div class='card' id='prediction'><b>prediction: {escape(pred['of'])}</b> "
             f"{_badge(pred['severity'])}<br><span class='muted'>psi {_num(pred['psi'])}</span><br>"
             f"{_bars(pred['histogram'], pred['kind'] == 'numeric')}</div>"]
    for name in order:
        f = columns[name]
        if not f.get("absent"):
            cards.append(f"<div class='card' id='{escape(name)}'><b>{escape(name)}</b> "
                         f"{_badge(f['severity'])}<br><span class='muted'>psi {_num(f['psi'])}, "
                         f"KL (Great Expectations) {_num(f.get('kl'))}</span>"
                         f"<br>{_bars(f['histogram'], f['kind'] == 'numeric')}</div>")
    shares = ", ".join(f"{escape(k)} {v:.1%}" for k, v in flags["shares"].items()) or "none"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Drift report</title>
<style>{STYLE}</style></head><body>
<h1>Drift report</h1>
<div class="muted">current {escape(report['current'])} ({report['rows']['current']} rows,
{escape(report['input'])}) vs reference {escape(report['reference'])}
({report['rows']['reference']} rows); model {escape(report['model_version'])}</div>
<p>{verdict}</p>
<p class="muted">Thresholds (params <code>monitor</code>): PSI ≥ {t['psi']} critical,
≥ {t['warn_psi']} warning;
or a test with p &lt; {t['p_value']} and KS ≥ {t['ks']} / Cramér's V ≥ {t['cramers_v']};
or a KL divergence (Great Expectations) ≥ {t.get('kl', '—')};
unknown or out-of-range rows over {t['max_flagged_share']:.0%}.</p>
<h2>Prediction and flags</h2>
<table><tr><th>check</th><th>value</th><th>severity</th></tr>
<tr><td>score distribution ({escape(pred['of'])})</td><td>psi {_num(pred['psi'])}</td>
<td>{_badge(pred['severity'])}</td></tr>
<tr><td>rows flagged unknown_category / out_of_range</td><td>{flags['unknown_or_out_of_range']:.2%}</td>
<td>{_badge(flags['severity'])}</td></tr>
<tr><td>flag shares</td><td colspan=2>{shares}</td></tr></table>
<h2>Columns</h2>
<table><tr><th>column</th><th>kind</th><th>PSI</th><th>test</th><th>more</th><th>ref mean</th>
<th>cur mean</th><th>severity</th></tr>{''.join(rows)}</table>
<h2>Distributions</h2>
<div class="legend"><span style="background:{REF}"></span>reference (training split)
<span style="background:{CUR}"></span>current</div>
<div class="grid">{''.join(cards)}</div>
</body></html>
"""
