"""The code layout of SPEC section 2: `platform/` imports as `itsm`, never shadows the standard module,
and every layer imports only the layers before it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_platform_from_the_repository_root_is_the_standard_module() -> None:
    code = "import platform, sysconfig; print(platform.__file__); print(platform.python_version())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    module_file, python_version = out.stdout.split()
    assert Path(module_file).parent == Path(__import__("sysconfig").get_paths()["stdlib"])
    assert python_version.startswith("3.")
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_itsm_is_the_platform_folder_and_has_no_init() -> None:
    import itsm.interpreter

    assert Path(itsm.interpreter.__file__).parent == ROOT / "platform" / "interpreter"


def _contract_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_every_package_under_platform_is_checked_by_the_import_contracts() -> None:
    packages = {f"itsm.{p.name}" for p in (ROOT / "platform").iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(_contract_config()["root_packages"])


def test_layers_import_only_the_layers_before_them() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and ", 0 broken" in result.stdout


def test_the_web_layer_reads_the_engine_through_its_one_accessor() -> None:
    """`web/extension.py` owns the application's extensions: no other module looks them up by key."""
    readers = [path.relative_to(ROOT).as_posix() for path in sorted((ROOT / "platform").rglob("*.py"))
               if ".extensions" in path.read_text(encoding="utf-8") and path.name != "extension.py"]
    assert readers == []
