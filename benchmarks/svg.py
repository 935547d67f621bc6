"""Pictures for the docs, written as plain SVG (no plotting library: the benchmark needs nothing extra).

Two pictures: an upgrade timeline (phases of the playbook on top, availability seen by the prober below) and a
Gantt chart of the phases of several recoveries side by side.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

PALETTE = ("#4e79a7", "#f28e2b", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
           "#86bcb6", "#d37295", "#499894", "#fabfd2", "#8cd17d")
UP, DOWN = "#59a14f", "#e15759"
WIDTH, LEFT, RIGHT = 960, 190, 30


def _scale(span: float) -> float:
    return (WIDTH - LEFT - RIGHT) / max(span, 1e-6)


def _axis(y: float, span: float, scale: float) -> list[str]:
    """A time axis in seconds with about ten ticks."""
    step = next((s for s in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600) if span / s <= 10), 1200)
    parts = [f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#333"/>']
    tick = 0.0
    while tick <= span + 1e-9:
        x = LEFT + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 5}" stroke="#333"/>')
        parts.append(f'<text x="{x:.1f}" y="{y + 18}" font-size="11" text-anchor="middle">{tick:g} s</text>')
        tick += step
    return parts


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _document(height: float, title: str, body: list[str]) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="sans-serif">',
        f'<rect width="{WIDTH}" height="{height:.0f}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" font-size="15" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
        *body, "</svg>", ""])


def upgrade_timeline(path: Path, title: str, phases: list[tuple[str, float, float]],
                     probes: list[tuple[float, bool]], interval: float = 0.1) -> None:
    """`phases`: (name, start, end) in seconds from the playbook's start; `probes`: (seconds, answered)."""
    span = max([end for _name, _start, end in phases] + [moment for moment, _ok in probes] + [1.0])
    scale = _scale(span)
    body: list[str] = []
    y = 40
    for index, (name, start, end) in enumerate(phases):
        colour = PALETTE[index % len(PALETTE)]
        body.append(f'<text x="{LEFT - 8}" y="{y + 13}" font-size="12" text-anchor="end">{escape(name)}</text>')
        body.append(f'<rect x="{LEFT + start * scale:.1f}" y="{y}" width="{max((end - start) * scale, 1.5):.1f}" '
                    f'height="16" fill="{colour}"><title>{escape(name)}: {end - start:.1f} s</title></rect>')
        y += 22
    y += 10
    body.append(f'<text x="{LEFT - 8}" y="{y + 17}" font-size="12" text-anchor="end">MLflow answers</text>')
    # Each probe's answer holds until the next probe (its own duration plus the interval).
    nexts = [moment for moment, _answered in probes[1:]] + [probes[-1][0] + interval if probes else 0.0]
    for (moment, answered), until in zip(probes, nexts):
        body.append(f'<rect x="{LEFT + moment * scale:.1f}" y="{y}" width="{max((until - moment) * scale, 1):.1f}" '
                    f'height="24" fill="{UP if answered else DOWN}"/>')
    y += 34
    body += _axis(y, span, scale)
    body.append(f'<text x="{LEFT}" y="{y + 40}" font-size="11">green: /health and an authenticated API call '
                f'answered; red: a probe failed (probes every {interval * 1000:.0f} ms)</text>')
    _write(path, _document(y + 55, title, body))


def phase_gantt(path: Path, title: str, rows: list[tuple[str, list[tuple[str, float, float]]]]) -> None:
    """One bar per row (a recovery), split into its phases; a legend names the phases by colour."""
    span = max([end for _label, phases in rows for _name, _start, end in phases] + [1.0])
    scale = _scale(span)
    colours: dict[str, str] = {}
    body: list[str] = []
    y = 40
    for label, phases in rows:
        body.append(f'<text x="{LEFT - 8}" y="{y + 15}" font-size="12" text-anchor="end">{escape(label)}</text>')
        for name, start, end in phases:
            colour = colours.setdefault(name, PALETTE[len(colours) % len(PALETTE)])
            body.append(f'<rect x="{LEFT + start * scale:.1f}" y="{y}" width="{max((end - start) * scale, 1.5):.1f}"'
                        f' height="20" fill="{colour}"><title>{escape(name)}: {end - start:.1f} s</title></rect>')
        total = max((end for _name, _start, end in phases), default=0.0)
        body.append(f'<text x="{LEFT + total * scale + 4:.1f}" y="{y + 15}" font-size="11">{total:.0f} s</text>')
        y += 28
    y += 6
    body += _axis(y, span, scale)
    x, y = LEFT, y + 38
    for name, colour in colours.items():
        body.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        body.append(f'<text x="{x + 16}" y="{y}" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(name)
        if x > WIDTH - 150:
            x, y = LEFT, y + 18
    _write(path, _document(y + 20, title, body))
