"""Small inline SVG charts for the admin pages: no script, nothing to load."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def sparkline(values: Sequence[int], width: int = 120, height: int = 24, label: str = "") -> Markup:
    """A line of the values, scaled to the largest; the label is its accessible name."""
    if not values:
        return Markup("")
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 1 - (v / top) * (height - 2):.1f}" for i, v in enumerate(values)
    )
    return Markup(
        f'<svg class="sparkline" role="img" aria-label="{escape(label)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(label)}</title>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/>'
        "</svg>"
    )


def bar_chart(
    values: Sequence[int], labels: Sequence[str], title: str, width: int = 600, height: int = 160
) -> Markup:
    """Bars with the largest value marked and each bar's value in its tooltip."""
    if not values:
        return Markup("")
    top = max(values) or 1
    plot = height - 20
    slot = width / len(values)
    bars = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        bar = (value / top) * (plot - 4)
        bars.append(
            f'<rect x="{i * slot + 1:.1f}" y="{plot - bar:.1f}" width="{max(slot - 2, 1):.1f}" '
            f'height="{bar:.1f}" fill="currentColor"><title>{escape(label)}: {value}</title></rect>'
        )
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMid meet">'
        f"<title>{escape(title)}</title>{''.join(bars)}"
        f'<text x="0" y="{height - 4}" font-size="11" fill="currentColor">'
        f"{escape(labels[0])}</text>"
        f'<text x="{width}" y="{height - 4}" font-size="11" text-anchor="end" '
        f'fill="currentColor">{escape(labels[-1])}</text>'
        f'<text x="0" y="11" font-size="11" fill="currentColor">max {top}</text></svg>'
    )


def daily_totals(series: dict[int | None, list[int]], days: int) -> list[int]:
    """Per-day sums over every source's series."""
    totals = [0] * days
    for counts in series.values():
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return totals
