"""Charts and tables for reports: sparklines (text, markdown), inline SVG and HTML tables."""

from __future__ import annotations

from html import escape
from typing import Any

BARS = "▁▂▃▄▅▆▇█"


def _downsample(values: list[float], width: int) -> list[float]:
    if len(values) <= width:
        return values
    step = len(values) / width
    # max per slot: a one-bucket spike must stay visible
    return [max(values[int(i * step):max(int((i + 1) * step), int(i * step) + 1)])
            for i in range(width)]


def sparkline(values: list[float], width: int = 60) -> str:
    vals = _downsample([float(v or 0) for v in values], width)
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return BARS[0] * len(vals)
    return "".join(BARS[min(len(BARS) - 1, int((v - lo) / (hi - lo) * len(BARS)))] for v in vals)


def chart_line(chart: dict[str, Any]) -> str:
    """One line: title, sparkline, range."""
    points = chart.get("points") or []
    values = [p[1] for p in points]
    if not values:
        return f"{chart.get('title', '')}: no data"
    unit = chart.get("unit", "")
    return (f"{chart.get('title', '')}: {sparkline(values)}  "
            f"(max {max(values):g}{unit}, {points[0][0]} → {points[-1][0]})")


def svg(chart: dict[str, Any], width: int = 640, height: int = 140) -> str:
    points = chart.get("points") or []
    if not points:
        return ""
    values = [float(p[1] or 0) for p in points]
    hi = max(values) or 1.0
    pad_l, pad_b = 48, 20
    w, h = width - pad_l - 8, height - pad_b - 8
    n = max(len(values) - 1, 1)
    coords = " ".join(f"{pad_l + i / n * w:.1f},{8 + h - v / hi * h:.1f}"
                      for i, v in enumerate(values))
    unit = escape(str(chart.get("unit", "")))
    return (f'<figure><figcaption>{escape(str(chart.get("title", "")))}</figcaption>'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" viewBox="0 0 {width} {height}">'
            f'<line x1="{pad_l}" y1="{8 + h}" x2="{pad_l + w}" y2="{8 + h}" stroke="#8c959f"/>'
            f'<line x1="{pad_l}" y1="8" x2="{pad_l}" y2="{8 + h}" stroke="#8c959f"/>'
            f'<text x="{pad_l - 4}" y="14" font-size="11" text-anchor="end">{hi:g}{unit}</text>'
            f'<text x="{pad_l - 4}" y="{8 + h}" font-size="11" text-anchor="end">0</text>'
            f'<text x="{pad_l}" y="{height - 4}" font-size="11">{escape(str(points[0][0]))}</text>'
            f'<text x="{pad_l + w}" y="{height - 4}" font-size="11" text-anchor="end">'
            f'{escape(str(points[-1][0]))}</text>'
            f'<polyline fill="none" stroke="#0969da" stroke-width="1.5" points="{coords}"/>'
            f'</svg></figure>')


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def table_text(table: dict[str, Any], indent: str = "    ") -> list[str]:
    cols = [str(c) for c in table.get("columns", [])]
    rows = [[_cell(v) for v in row] for row in table.get("rows", [])]
    widths = [min(60, max([len(c)] + [len(r[i]) for r in rows if i < len(r)]))
              for i, c in enumerate(cols)]
    def fmt(cells: list[str]) -> str:
        # Pad every column but the last, which is printed whole (often a reason).
        head = [c[:60].ljust(w) for c, w in zip(cells[:-1], widths, strict=False)]
        return (indent + "  ".join(head + cells[-1:])).rstrip()
    return [indent + str(table.get("title", "")), fmt(cols)] + [fmt(r) for r in rows]


def table_markdown(table: dict[str, Any]) -> list[str]:
    def esc(v: Any) -> str:
        return _cell(v).replace("|", "\\|").replace("\n", " ")
    cols = table.get("columns", [])
    out = [f"**{table.get('title', '')}**", "", "| " + " | ".join(map(esc, cols)) + " |",
           "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(esc(v) for v in row) + " |" for row in table.get("rows", [])]
    return out + [""]


def table_html(table: dict[str, Any]) -> str:
    head = "".join(f"<th>{escape(_cell(c))}</th>" for c in table.get("columns", []))
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in table.get("rows", []))
    return (f"<p><b>{escape(str(table.get('title', '')))}</b></p>"
            f"<table><tr>{head}</tr>{body}</table>")
