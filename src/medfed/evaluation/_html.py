"""Small HTML builders for the report. Every piece of text goes through ``escape``;
only the SVG produced by matplotlib (already XML-escaped) is inserted as markup."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any, NamedTuple


class Cell(NamedTuple):
    """A table cell with a CSS class (e.g. ``pass``/``fail``)."""

    text: str
    cls: str = ""


def e(value: Any) -> str:
    """HTML-escaped text of ``value``, quotes included (safe in attributes too)."""
    return escape(str(value), quote=True)


def table(
    head: Sequence[str],
    rows: Iterable[Sequence[str | Cell]],
    *,
    head_html: str | None = None,
    foot: Sequence[str | Cell] | None = None,
) -> str:
    """A ``<table>``; ``head_html`` replaces the one-row header when it needs spans."""
    header = head_html if head_html is not None else _row("th", head)
    body = "".join(_row("td", row) for row in rows)
    footer = f"<tfoot>{_row('td', foot)}</tfoot>" if foot else ""
    return f"<table><thead>{header}</thead><tbody>{body}</tbody>{footer}</table>"


def figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{e(caption)}</figcaption></figure>"


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{e(anchor)}"><h2>{e(title)}</h2>{body}</section>'


def note(text: str) -> str:
    return f'<p class="note">{e(text)}</p>'


def _row(tag: str, cells: Sequence[str | Cell]) -> str:
    parts = []
    for cell in cells:
        if isinstance(cell, Cell):
            cls = f' class="{e(cell.cls)}"' if cell.cls else ""
            parts.append(f"<{tag}{cls}>{e(cell.text)}</{tag}>")
        else:
            parts.append(f"<{tag}>{e(cell)}</{tag}>")
    return f"<tr>{''.join(parts)}</tr>"
