"""Render the conformance summary as one self-contained HTML page (no scripts, no links)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from medfed.conformance.clauses import Clause
from medfed.conformance.results import ClauseStatus, clause_status

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.n { text-align: right; }
.proved { background: #e3f6e3; }
.failing { background: #fbe0e0; }
.skipped { background: #fdf3d8; }
.not-covered { background: #eee; color: #666; }
ul.tests { margin: 0; padding-left: 1.2em; font-family: monospace; font-size: 85%; }
"""


def _text(value: object) -> str:
    """Escape for HTML, keeping the map's **bold** emphasis."""
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(str(value)))


def _row(clause: Clause, entry: Mapping[str, Any] | None) -> str:
    entry = entry or {}
    status = clause_status(entry)
    tests = "".join(f"<li>{_text(t)}</li>" for t in entry.get("test_ids", []))
    listing = f'<ul class="tests">{tests}</ul>' if tests else ""
    css = status.value.replace(" ", "-")
    return (
        f'<tr class="{css}"><td>{_text(clause.id)}</td>'
        f"<td>{_text(clause.requirement)}{listing}</td>"
        f'<td class="n">{int(entry.get("tests", 0))}</td>'
        f'<td class="n">{int(entry.get("passed", 0))}</td>'
        f'<td class="n">{int(entry.get("failed", 0))}</td>'
        f"<td>{status.value}</td></tr>"
    )


def render_html(data: Mapping[str, Any], clauses: Sequence[Clause]) -> str:
    """Return an HTML page with one table per section of the clause map.

    ``data`` is the summary the plugin writes (see :mod:`medfed.conformance.results`); a
    clause missing from it is shown as not covered. Columns: ID, requirement (with the test
    ids that carry it), tests, passed, failed, status (proved / failing / skipped / not
    covered). All text is escaped.
    """
    entries: Mapping[str, Any] = data.get("clauses", {})
    sections: dict[str, list[Clause]] = {}
    for clause in clauses:
        sections.setdefault(clause.section, []).append(clause)
    counts = {s: 0 for s in ClauseStatus}
    for clause in clauses:
        counts[clause_status(entries.get(clause.id))] += 1
    totals = ", ".join(f"{n} {s.value}" for s, n in counts.items())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>T/SCGS 313007-2024 conformance</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>T/SCGS 313007-2024 conformance</h1>",
        f"<p>{len(clauses)} clauses: {totals}.</p>",
    ]
    head = (
        "<tr><th>ID</th><th>requirement</th><th>tests</th><th>passed</th>"
        "<th>failed</th><th>status</th></tr>"
    )
    for section, members in sections.items():
        rows = "\n".join(_row(c, entries.get(c.id)) for c in members)
        parts.append(f"<h2>{_text(section)}</h2>\n<table>\n{head}\n{rows}\n</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
