"""Run the test suite in a subprocess and turn its outcome into the conformance report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from medfed.conformance.clauses import load_clauses
from medfed.conformance.report import render_html

PLUGIN = "medfed.conformance.plugin"


def run_conformance(
    json_path: Path, html_path: Path | None, pytest_args: Sequence[str] = ()
) -> int:
    """Run ``python -m pytest --conformance-json json_path *pytest_args``; render HTML.

    The report comes from a real test run in a fresh interpreter (the current directory is
    kept). When ``html_path`` is given and pytest wrote the JSON, the HTML page is written
    there too. Returns pytest's exit code; prints where the files were written.
    """
    json_path = Path(json_path).resolve()
    json_path.unlink(missing_ok=True)  # never render a stale summary from an earlier run
    # -p loads the clause plugin even for a suite whose conftest does not declare it.
    command = [sys.executable, "-m", "pytest", "-p", PLUGIN, "--conformance-json", str(json_path)]
    code = subprocess.run([*command, *pytest_args], check=False).returncode
    if not json_path.exists():
        print(f"conformance: pytest exited {code} without writing {json_path}", file=sys.stderr)
        return code
    print(f"conformance JSON: {json_path}")
    if html_path is not None:
        data = json.loads(json_path.read_text(encoding="utf-8"))
        html_path = Path(html_path).resolve()
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(data, load_clauses()), encoding="utf-8")
        print(f"conformance HTML: {html_path}")
    return code
