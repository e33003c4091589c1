"""Session fixtures shared with tests/unit/deployment (the same builder module and caches)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

_NAME = "medfed_tests_deployment_builders"


def builders() -> ModuleType:
    """The shared builder module, loaded once so the deployment and runtime tests share its caches."""
    if _NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).parents[1] / "deployment" / "_builders.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


@pytest.fixture(scope="session")
def deploy_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "medfed-deployment"


@pytest.fixture(scope="session")
def run_dir(deploy_base: Path, medmnist_dir: Path) -> Path:
    return builders().trained_run(deploy_base, medmnist_dir)


@pytest.fixture(scope="session")
def kits_intl(deploy_base: Path) -> Path:
    return builders().kits(deploy_base, "intl")


@pytest.fixture(scope="session")
def kits_gm(deploy_base: Path) -> Path:
    return builders().kits(deploy_base, "gm")


@pytest.fixture(scope="session")
def export_fp32(deploy_base: Path, medmnist_dir: Path, run_dir: Path):  # type: ignore[no-untyped-def]
    return builders().exported(deploy_base, medmnist_dir, "intl", "none")


@pytest.fixture(scope="session")
def export_int8(deploy_base: Path, medmnist_dir: Path, run_dir: Path):  # type: ignore[no-untyped-def]
    return builders().exported(deploy_base, medmnist_dir, "intl", "int8")


@pytest.fixture(scope="session")
def export_16x(deploy_base: Path, medmnist_dir: Path, run_dir: Path):  # type: ignore[no-untyped-def]
    return builders().exported(deploy_base, medmnist_dir, "intl", "16x")


@pytest.fixture(scope="session")
def export_gm(deploy_base: Path, medmnist_dir: Path, run_dir: Path):  # type: ignore[no-untyped-def]
    return builders().exported(deploy_base, medmnist_dir, "gm", "none")
