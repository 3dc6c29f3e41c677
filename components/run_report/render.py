"""Assembling the report's HTML: escaped text, tables, embedded images, no scripts to fail."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable

import pandas as pd

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:72rem;color:#1d2330;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #e4e8f0;padding-bottom:.3rem;margin-top:2.4rem}
.verdict{display:inline-block;padding:.25rem .7rem;border-radius:1rem;font-weight:600}
.ok{background:#dff5e3;color:#14532d}.fail{background:#fde2e1;color:#7f1d1d}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #e4e8f0;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f5f7fb}.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}.card{width:8.5rem;border:1px solid #e4e8f0;
border-radius:.5rem;padding:.4rem;font-size:.8rem}.card img{width:100%;image-rendering:pixelated}
.hit{outline:3px solid #22c55e}.muted{color:#6b7280}figure{margin:.5rem 0}
nav a{margin-right:1rem}
"""


def escape(value) -> str:
    return html.escape(str(value))


def table(frame: pd.DataFrame, percent: Iterable[str] = (), digits: int = 4) -> str:
    percent = set(percent)
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            if column in percent:
                cells.append(f'<td class="num">{value:.1%}</td>')
            elif isinstance(value, float):
                cells.append(f'<td class="num">{value:.{digits}f}</td>')
            else:
                cells.append(f"<td>{escape(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def figure(uri: str | None, caption: str) -> str:
    if not uri:
        return f'<p class="muted">{escape(caption)}: nothing to plot.</p>'
    return (
        f'<figure><img alt="{escape(caption)}" src="{uri}">'
        f'<figcaption class="muted">{escape(caption)}</figcaption></figure>'
    )


def bullet_list(lines: list[str], empty: str) -> str:
    if not lines:
        return f'<p class="muted">{escape(empty)}</p>'
    return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"


def card(item: str, title: str, image: bytes | None, note: str = "", hit: bool = False) -> str:
    picture = ""
    if image:
        encoded = base64.b64encode(image).decode("ascii")
        picture = f'<img alt="{escape(item)}" src="data:image/png;base64,{encoded}">'
    classes = "card hit" if hit else "card"
    # When the item id is the title (a log keyed by names), it is shown once.
    shown_title = "" if title == item else f"<div>{escape(title)}</div>"
    return (
        f'<div class="{classes}">{picture}<div><b>{escape(item)}</b></div>'
        f'{shown_title}<div class="muted">{escape(note)}</div></div>'
    )


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    navigation = "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t, _ in sections)
    body = "".join(section(a, t, b) for a, t, b in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="muted">{escape(subtitle)}</p>'
        f"<nav>{navigation}</nav>{body}</body></html>"
    )
