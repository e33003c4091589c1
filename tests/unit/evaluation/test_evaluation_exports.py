"""The public API of medfed.evaluation is exactly this list."""

from __future__ import annotations

import medfed.evaluation


def test_exported_members() -> None:
    assert sorted(medfed.evaluation.__all__) == [
        "Metrics",
        "classification_metrics",
        "compare",
        "comparison_rows",
        "ks_curve",
        "macro_auc",
        "render_report",
        "roc_points",
        "write_report",
    ]
    for name in medfed.evaluation.__all__:
        assert getattr(medfed.evaluation, name).__module__.startswith("medfed.evaluation.")


def test_evaluation_never_imports_torch_or_transport() -> None:
    import subprocess
    import sys

    code = (
        "import sys, medfed.evaluation; "
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'medfed.transport', 'grpc'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
