"""Small charts as inline SVG, drawn on the server (no script; each beside a table that says the same)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

COLOURS = {"pending": "#1d70b8", "delivered": "#00703c", "rejected": "#d4351c"}
WIDTH, ROW, LABEL = 640, 34, 70


def outbox_bars(outbox: dict[str, dict], title: str = "Envelopes per partner") -> Markup:
    """One stacked bar per partner: waiting, delivered, rejected."""
    if not outbox:
        return Markup("")
    parts = ("pending", "delivered", "rejected")
    top = max(sum(int(o.get(p) or 0) for p in parts) for o in outbox.values()) or 1
    scale = (WIDTH - LABEL - 60) / top
    height = ROW * len(outbox) + 40
    out = [f'<svg class="chart" role="img" aria-labelledby="outbox-chart-title" viewBox="0 0 {WIDTH} {height}" '
           f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="outbox-chart-title">{escape(title)}</title>']
    for row, (partner, counts) in enumerate(sorted(outbox.items())):
        y, x = 10 + row * ROW, LABEL
        out.append(f'<text x="0" y="{y + 17}" font-size="14" fill="#0b0c0c">{escape(partner)}</text>')
        for part in parts:
            value = int(counts.get(part) or 0)
            if value:
                out.append(f'<rect x="{x:.1f}" y="{y}" width="{max(value * scale, 2):.1f}" height="24" '
                           f'fill="{COLOURS[part]}"><title>{part}: {value}</title></rect>')
                x += max(value * scale, 2)
        total = sum(int(counts.get(p) or 0) for p in parts)
        out.append(f'<text x="{x + 6:.1f}" y="{y + 17}" font-size="13" fill="#0b0c0c">{total}</text>')
    legend_y = height - 10
    for i, part in enumerate(parts):
        out.append(f'<rect x="{LABEL + i * 120}" y="{legend_y - 11}" width="12" height="12" fill="{COLOURS[part]}"/>'
                   f'<text x="{LABEL + i * 120 + 16}" y="{legend_y}" font-size="13" fill="#0b0c0c">'
                   f'{"waiting" if part == "pending" else part}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def log_growth(points: list[tuple[int, int]], title: str = "Leaves in the log at each signed checkpoint") -> Markup:
    """A step line of the tree size at each checkpoint over time."""
    if len(points) < 2:
        return Markup("")
    height, left, bottom = 220, 60, 30
    (t0, _), (t1, _) = points[0], points[-1]
    top = max(size for _, size in points) or 1
    span = max(t1 - t0, 1)

    def x(t: int) -> float:
        return left + (t - t0) / span * (WIDTH - left - 20)

    def y(size: int) -> float:
        return height - bottom - size / top * (height - bottom - 20)

    path = [f"M{x(points[0][0]):.1f},{y(points[0][1]):.1f}"]
    for (_, previous), (t, size) in zip(points, points[1:]):
        path.append(f"L{x(t):.1f},{y(previous):.1f}L{x(t):.1f},{y(size):.1f}")
    when = lambda t: datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    out = [f'<svg class="chart" role="img" aria-labelledby="growth-chart-title" viewBox="0 0 {WIDTH} {height}" '
           f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="growth-chart-title">{escape(title)}: from {points[0][1]} to {points[-1][1]}</title>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH - 10}" y2="{height - bottom}" stroke="#505a5f"/>',
           f'<line x1="{left}" y1="10" x2="{left}" y2="{height - bottom}" stroke="#505a5f"/>',
           f'<text x="{left - 6}" y="{y(top) + 5:.1f}" font-size="12" text-anchor="end" fill="#0b0c0c">{top}</text>',
           f'<text x="{left - 6}" y="{height - bottom}" font-size="12" text-anchor="end" fill="#0b0c0c">0</text>',
           f'<text x="{left}" y="{height - 8}" font-size="12" fill="#0b0c0c">{when(t0)}</text>',
           f'<text x="{WIDTH - 10}" y="{height - 8}" font-size="12" text-anchor="end" fill="#0b0c0c">{when(t1)}</text>',
           f'<path d="{"".join(path)}" fill="none" stroke="#1d70b8" stroke-width="3"/>']
    for t, size in points:
        out.append(f'<circle cx="{x(t):.1f}" cy="{y(size):.1f}" r="3.5" fill="#1d70b8">'
                   f'<title>{when(t)}: {size} leaves</title></circle>')
    out.append("</svg>")
    return Markup("".join(out))
