"""The replay's HTML report: one self-contained file (inline CSS and SVG, no script, no CDN), readable offline.

Charts: firing rate per rule over time (cards per 100 orders, per month), the indicator mix per rule, and
the most common evidence patterns (the rules that fired together on one order; what the cards cited).
"""

from __future__ import annotations

from html import escape
from typing import Any

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
INDICATOR_COLOURS = {"critical": "#c0392b", "warning": "#e67e22", "info": "#2980b9"}


def _line_chart(months: list[str], series: dict[str, list[float]], width: int = 760, height: int = 300) -> str:
    if not months or not series:
        return "<p>No orders in the window.</p>"
    left, right, top, bottom = 50, 190, 15, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for values in series.values() for v in values] + [1.0])

    def x(i: int) -> float:
        return left + (plot_w * i / (len(months) - 1) if len(months) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / peak

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="cards per 100 orders per month, per rule">']
    for k in range(5):
        v = peak * k / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">{v:.0f}</text>')
    step = max(1, len(months) // 12)
    for i, month in enumerate(months):
        last = i == len(months) - 1 and (len(months) - 1) % step >= step / 2  # no label over its neighbour
        if i % step == 0 or last:
            parts.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                         f'font-size="11">{escape(month)}</text>')
    for n, (rule, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}">'
                         f'<title>{escape(rule)} {escape(months[i])}: {v:.1f} per 100 orders</title></circle>')
        parts.append(f'<rect x="{left + plot_w + 12}" y="{top + 14 * n}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{left + plot_w + 26}" y="{top + 9 + 14 * n}" font-size="11">{escape(rule)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _stacked_bars(rows: list[tuple[str, dict[str, int]]], width: int = 760) -> str:
    if not rows:
        return "<p>No cards.</p>"
    bar_h, label_w, gap = 18, 210, 6
    height = len(rows) * (bar_h + gap) + 30
    peak = max(sum(parts.values()) for _label, parts in rows) or 1
    plot_w = width - label_w - 60
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="indicator mix per rule">']
    for n, (label, parts) in enumerate(rows):
        top = n * (bar_h + gap)
        svg.append(f'<text x="{label_w - 6}" y="{top + 13}" text-anchor="end" font-size="12">{escape(label)}</text>')
        offset = 0.0
        for indicator in ("critical", "warning", "info"):
            count = parts.get(indicator, 0)
            if not count:
                continue
            w = plot_w * count / peak
            svg.append(f'<rect x="{label_w + offset:.1f}" y="{top}" width="{w:.1f}" height="{bar_h}" '
                       f'fill="{INDICATOR_COLOURS[indicator]}"><title>{escape(label)}: {count} {indicator}'
                       f'</title></rect>')
            offset += w
        svg.append(f'<text x="{label_w + offset + 4:.1f}" y="{top + 13}" font-size="11">{sum(parts.values())}</text>')
    legend_y = len(rows) * (bar_h + gap) + 12
    for n, (indicator, colour) in enumerate(INDICATOR_COLOURS.items()):
        svg.append(f'<rect x="{label_w + 90 * n}" y="{legend_y}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{label_w + 90 * n + 14}" y="{legend_y + 9}" font-size="11">{indicator}</text>')
    svg.append("</svg>")
    return "".join(svg)


def _bars(rows: list[tuple[str, int]], width: int = 760) -> str:
    if not rows:
        return "<p>None.</p>"
    bar_h, gap = 16, 5
    peak = max(n for _label, n in rows) or 1
    height = len(rows) * (bar_h + gap)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="most common evidence patterns">']
    for i, (label, n) in enumerate(rows):
        top = i * (bar_h + gap)
        w = 240 * n / peak
        svg.append(f'<rect x="0" y="{top}" width="{w:.1f}" height="{bar_h}" fill="#5b7db1"/>'
                   f'<text x="{w + 4:.1f}" y="{top + 12}" font-size="11">{n}</text>'
                   f'<text x="290" y="{top + 12}" font-size="11">{escape(label[:110])}</text>')
    svg.append("</svg>")
    return "".join(svg)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(summary: dict[str, Any]) -> str:
    """The whole report as one HTML document."""
    months = [m["month"] for m in summary["per_month"]]
    rules = list(summary["cards_per_rule"])
    series = {rule: [100 * m["cards"].get(rule, 0) / m["orders"] if m["orders"] else 0.0
                     for m in summary["per_month"]] for rule in rules}
    mix = [(rule, r["indicators"]) for rule, r in sorted(summary["cards_per_rule"].items(),
                                                          key=lambda kv: -kv[1]["cards"])]
    patterns = [(p["pattern"], p["orders"]) for p in summary["evidence_patterns"][:15]]
    cited = [(p["rule_evidence"], p["cards"]) for p in summary["evidence_cited"][:15]]
    rule_rows = [[rule, r["cards"], "-" if r["per_100_orders"] is None else f"{r['per_100_orders']:.1f}",
                  ", ".join(f"{i} {n}" for i, n in r["indicators"].items())]
                 for rule, r in summary["cards_per_rule"].items()]
    missing = summary["data_missing"]
    missing_rows = [[c, n, "no file of it in the export"] for c, n in missing["not_in_export"].items()]
    missing_rows += [[c, n, "none recorded for the patient by then"] for c, n in missing["none_for_patient"].items()]
    malformed = summary["malformed_lines"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Replay report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 960px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; font-size: 13px; }}
th {{ background: #f3f3f3; }} h2 {{ margin-top: 1.6em; }} .num {{ font-size: 1.4em; font-weight: 600; }}
</style></head><body>
<h1>Replay of historical orders</h1>
<p>{summary['orders_replayed']} orders of {summary['patients_with_orders']} patients replayed
({summary['patients_in_export']} patients in the export), {summary['cards']} cards;
{len(summary['orders_without_cards'])} orders without a card, {len(summary['orders_refused'])} refused;
{malformed['count']} malformed lines skipped; {summary['resources_left_out_as_later_than_order']} resources left
out of a record as recorded or changed after its order. Engine: {escape(summary['engine'])},
{summary['seconds']:.1f} s.</p>
<h2>Cards per rule</h2>
{_table(["rule", "cards", "orders with the rule per 100 orders", "indicators"], rule_rows)}
<h2>Firing rate per rule over time (cards per 100 orders, per month)</h2>
{_line_chart(months, series)}
<h2>Indicator mix</h2>
{_stacked_bars(mix)}
<h2>Most common evidence patterns</h2>
<h3>Rules that fired together on one order</h3>
{_bars(patterns)}
<h3>What the cards cited</h3>
{_bars(cited)}
<h2>Orders per month</h2>
{_table(["month", "orders", "cards"], [[m["month"], m["orders"], sum(m["cards"].values())]
                                        for m in summary["per_month"]])}
<h2>Data categories missing</h2>
{_table(["category", "orders", "why"], missing_rows) if missing_rows else "<p>None.</p>"}
<h2>Malformed lines</h2>
{_table(["where and why"], [[m] for m in malformed["first"]]) if malformed["first"] else "<p>None.</p>"}
</body></html>
"""
