"""Server-rendered SVG charts: plain strings, no script, every bar with its number in a <title>.

Pure (no Django): the caller marks the result safe; every label here is escaped.
"""

from __future__ import annotations

from html import escape

HEIGHT = 140
LABEL_WIDTH = 170


def columns(points: list[tuple[str, int]], *, title: str, width: int = 640) -> str:
    """Vertical bars (a time series); hovering a bar shows ``label: value``."""
    top = max((value for _, value in points), default=0)
    if not top:
        return _nothing(title, width, HEIGHT + 20, "No activity in this period.")
    peak = top
    step = width / max(len(points), 1)
    bar = max(step - 1, 1)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {HEIGHT + 20}" '
        f'width="100%" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="0" y1="{HEIGHT}" x2="{width}" y2="{HEIGHT}" stroke="#c8ccd6"/>',
    ]
    for index, (label, value) in enumerate(points):
        h = round((HEIGHT - 10) * value / peak, 1)
        parts.append(
            f'<rect x="{index * step:.1f}" y="{HEIGHT - h}" width="{bar:.1f}" height="{h}" fill="#2f5bea">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
    if points:
        parts.append(
            f'<text x="0" y="{HEIGHT + 15}" font-size="11" fill="#5b6170">{escape(points[0][0])}</text>'
        )
        parts.append(
            f'<text x="{width}" y="{HEIGHT + 15}" font-size="11" text-anchor="end" fill="#5b6170">'
            f"{escape(points[-1][0])}</text>"
        )
    parts.append(
        f'<text x="{width}" y="10" font-size="11" text-anchor="end" fill="#5b6170">max {peak}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


# The colours of a stacked bar's parts, in order (the first is the bars' own).
PARTS = ("#2f5bea", "#b9c0cf")


def _nothing(title: str, width: int, height: int, message: str) -> str:
    """A chart with nothing to draw says so, rather than an empty frame (its text as large on the
    page whatever the chart's width)."""
    size = round(13 * width / 480)
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}: {escape(message)}" '
        f'viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2:g}" y="{height / 2 + 5:g}" font-size="{size}" text-anchor="middle" '
        f'fill="#5b6170">{escape(message)}</text></svg>'
    )


def stacked_bars(
    rows: list[tuple[str, tuple[int, ...]]], *, parts: tuple[str, ...], title: str, width: int = 480
) -> str:
    """Horizontal bars made of ``parts`` (e.g. active and inactive users of a site), a legend above
    them and each bar labelled with its parts' values; hovering a part shows ``label: value part``."""
    if not rows:
        return _nothing(title, width, 48, "No data yet.")
    row = 24
    legend = 22
    peak = max((sum(values) for _, values in rows), default=0) or 1
    room = width - LABEL_WIDTH - 150
    height = legend + row * len(rows)
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    x = LABEL_WIDTH
    for part, colour in zip(parts, PARTS, strict=False):
        out.append(
            f'<rect x="{x}" y="4" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="13" font-size="12" fill="#1d2330">{escape(part)}</text>'
        )
        x += 24 + 7 * len(part)
    for index, (label, values) in enumerate(rows):
        y = legend + index * row
        out.append(f'<g><text x="0" y="{y + 16}" font-size="12" fill="#1d2330">{escape(label[:28])}</text>')
        x = float(LABEL_WIDTH)
        for part, colour, value in zip(parts, PARTS, values, strict=False):
            w = round(room * value / peak, 1)
            out.append(
                f'<rect x="{x:g}" y="{y + 4}" width="{w:g}" height="16" fill="{colour}">'
                f"<title>{escape(label)}: {value} {escape(part)}</title></rect>"
            )
            x += w
        summary = " · ".join(f"{value} {part}" for part, value in zip(parts, values, strict=False))
        out.append(
            f'<text x="{x + 6:g}" y="{y + 16}" font-size="12" fill="#1d2330">{escape(summary)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def bars(points: list[tuple[str, int]], *, title: str, width: int = 480) -> str:
    """Horizontal bars (categories), each labelled with its value."""
    if not points:
        return _nothing(title, width, 48, "No data yet.")
    row = 24
    peak = max((value for _, value in points), default=0) or 1
    room = width - LABEL_WIDTH - 50
    height = row * max(len(points), 1)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(points):
        y = index * row
        w = round(room * value / peak, 1)
        parts.append(
            f"<g><title>{escape(label)}: {value}</title>"
            f'<text x="0" y="{y + 16}" font-size="12" fill="#1d2330">{escape(label[:28])}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{w}" height="16" fill="#2f5bea"/>'
            f'<text x="{LABEL_WIDTH + w + 6}" y="{y + 16}" font-size="12" fill="#1d2330">{value}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
