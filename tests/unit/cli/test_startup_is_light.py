"""Every command's parser is built without loading torch: services start in a second, not thirty."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_command_line_loads_no_heavy_library() -> None:
    code = (
        "import sys, medfed.cli as c; c._parser(); "
        "print(sorted(m for m in ('torch', 'sklearn', 'scipy', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_export_offers_exactly_the_quantization_modes() -> None:
    from medfed.cli import _parser
    from medfed.deployment import QuantizeMode

    sub = next(a for a in _parser()._actions if a.dest == "command")
    quantize = next(a for a in sub.choices["export"]._actions if a.dest == "quantize")
    assert set(quantize.choices) == {m.value for m in QuantizeMode}
