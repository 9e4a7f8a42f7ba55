"""Charts as SVG drawn on the server: no script, no library, readable without colour
(each bar has its figure written beside it and a <title> a screen reader announces)."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

OK, BAD, BAR = "#2e8b57", "#c0392b", "#1f5fbf"


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>{"".join(body)}</svg>'
    )


def stacked_days(label: str, days: list[tuple[str, int, int]]) -> Markup:
    """One column per day: successes below, failures on top."""
    width, height, top, bottom, left = 640, 220, 16, 40, 30
    plot = height - top - bottom
    peak = max([ok + bad for _, ok, bad in days] + [1])
    step = (width - left) / max(len(days), 1)
    bar = max(min(step * 0.7, 40), 2)
    body = [f'<line x1="{left}" y1="{top + plot}" x2="{width}" y2="{top + plot}" stroke="#999"/>',
            f'<text x="0" y="{top + 4}">{peak}</text><text x="0" y="{top + plot}">0</text>']
    every = max(1, len(days) // 10)  # a label every few days on a long period
    for i, (day, ok, bad) in enumerate(days):
        x = left + i * step + (step - bar) / 2
        h_ok, h_bad = plot * ok / peak, plot * bad / peak
        y_ok = top + plot - h_ok
        tip = escape(f"{day}: {ok} succeeded, {bad} failed")
        body.append(f'<g><title>{tip}</title>'
                    f'<rect x="{x:.1f}" y="{y_ok:.1f}" width="{bar:.1f}" height="{h_ok:.1f}" fill="{OK}"/>'
                    f'<rect x="{x:.1f}" y="{y_ok - h_bad:.1f}" width="{bar:.1f}" height="{h_bad:.1f}" fill="{BAD}"/></g>')
        if i % every == 0:
            body.append(f'<text x="{x:.1f}" y="{height - bottom + 14}">{escape(day[5:])}</text>')
    body.append(f'<rect x="{left}" y="{height - 14}" width="10" height="10" fill="{OK}"/>'
                f'<text x="{left + 14}" y="{height - 5}">succeeded</text>'
                f'<rect x="{left + 90}" y="{height - 14}" width="10" height="10" fill="{BAD}"/>'
                f'<text x="{left + 104}" y="{height - 5}">failed</text>')
    return _svg(width, height, label, body)


def horizontal(label: str, items: list[tuple[str, float, str]], peak: float | None = None) -> Markup:
    """One bar per item: (name, value, the value as the API writes it)."""
    row, left, width = 24, 120, 640
    height = max(len(items), 1) * row + 8
    peak = peak or max([v for _, v, _ in items] + [1e-9])
    body = []
    for i, (name, value, text) in enumerate(items):
        y = 4 + i * row
        w = (width - left - 90) * (value / peak if peak else 0)
        body.append(f'<g><title>{escape(f"{name}: {text}")}</title>'
                    f'<text x="0" y="{y + 15}">{escape(name)}</text>'
                    f'<rect x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 8}" fill="{BAR}"/>'
                    f'<text x="{left + w + 6:.1f}" y="{y + 15}">{escape(text)}</text></g>')
    if not items:
        body.append('<text x="0" y="18">nothing in this period</text>')
    return _svg(width, height, label, body)


def milliseconds(text: str | None) -> float | None:
    """The API's duration text ("350ms", "1.2s") as milliseconds."""
    m = re.fullmatch(r"([\d.]+)(ms|s)", text or "")
    return None if m is None else float(m.group(1)) * (1 if m.group(2) == "ms" else 1000)
