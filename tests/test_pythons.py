"""scripts/pythons.sh, which scripts/bootstrap, scripts/checkov and scripts/test share: which Pythons are
supported, which interpreter a virtualenv is made by, and when a virtualenv is recreated. Each test runs
the real shell functions with real interpreters and virtualenvs in a temporary folder; a test that needs
a second supported Python, or an unsupported one, is skipped on a machine without it."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "scripts" / "pythons.sh"
RUNNING = os.path.realpath(sys.executable)  # the interpreter this virtualenv was made by
RUNNING_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def sh(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs `script` in bash after sourcing scripts/pythons.sh, with the environment less PYTHON plus `env`."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHON"} | env
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; . "{HELPERS}"; {script}'],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )


def supported_pythons() -> list[str]:
    """The supported Pythons as scripts/pythons.sh lists them, bootstrap's preference first."""
    match = re.search(r"^SUPPORTED_PYTHONS=\(([^)]*)\)$", HELPERS.read_text(), re.MULTILINE)
    assert match, "scripts/pythons.sh has no SUPPORTED_PYTHONS=(...)"
    return match.group(1).split()


def found(version: str) -> str | None:
    result = sh(f"find_python {version}")
    return result.stdout.strip() if result.returncode == 0 else None


def another_supported_python() -> str:
    for version in supported_pythons():
        path = found(version) if version != RUNNING_VERSION else None
        if path:
            return path
    pytest.skip(f"no supported Python besides {RUNNING_VERSION} on this machine")


def an_unsupported_python() -> str:
    for version in ("3.10", "3.9", "3.8"):
        path = found(version)
        if path:
            return path
    pytest.skip("no unsupported Python (3.8-3.10) on this machine")


def made_by(venv: Path) -> str:
    return os.path.realpath(venv / "bin" / "python")


@pytest.fixture
def requirements(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("# nothing to install: the tests are about the virtualenv, not its packages\n")
    return path


def test_the_supported_pythons_are_the_ones_pyproject_admits():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    match = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", requires)
    assert match, requires
    low, high = map(int, match.groups())
    assert supported_pythons() == [f"3.{minor}" for minor in range(low, high)] == ["3.11", "3.12", "3.13"]
    assert RUNNING_VERSION in supported_pythons()


def test_find_python_finds_the_running_version_as_a_working_interpreter():
    path = found(RUNNING_VERSION)
    assert path
    assert subprocess.run(
        [path, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout.strip() == str(sys.version_info[:2])


def test_python_naming_a_missing_interpreter_is_refused():
    result = sh("choose_python bootstrap .venv-none", PYTHON="/nonexistent/python3.12")
    assert result.returncode == 2
    assert "PYTHON=/nonexistent/python3.12 does not run (supported: 3.11 3.12 3.13)" in result.stderr


def test_python_naming_an_unsupported_version_is_refused():
    old = an_unsupported_python()
    result = sh("choose_python bootstrap .venv-none", PYTHON=old)
    assert result.returncode == 2
    assert re.search(r"is Python 3\.\d+, not a supported one \(3\.11 3\.12 3\.13\)", result.stderr), result.stderr


def test_python_wins_over_the_interpreter_an_existing_venv_was_made_by(tmp_path: Path, requirements: Path):
    other = another_supported_python()
    venv = tmp_path / "venv"
    subprocess.run([RUNNING, "-m", "venv", "--without-pip", str(venv)], check=True)
    result = sh(
        f'p="$(choose_python bootstrap "{venv}")"; ensure_venv bootstrap "{venv}" "$p" "{requirements}"', PYTHON=other
    )
    assert result.returncode == 0, result.stderr
    assert f"recreating {venv} (made by {RUNNING}; wanted {other})" in result.stderr
    assert made_by(venv) == other


def test_without_python_a_venv_of_a_supported_python_is_kept(tmp_path: Path, requirements: Path):
    other = another_supported_python()
    venv = tmp_path / "venv"
    first = sh(f'ensure_venv bootstrap "{venv}" "{other}" "{requirements}"')
    assert first.returncode == 0, first.stderr
    (venv / "kept").touch()
    again = sh(
        f'p="$(choose_python bootstrap "{venv}")"; echo "$p"; ensure_venv bootstrap "{venv}" "$p" "{requirements}"'
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == other
    assert "recreating" not in again.stderr
    assert "installing" not in again.stderr  # same requirements: nothing to do
    assert (venv / "kept").exists()


def test_a_venv_made_by_an_unsupported_python_is_recreated_with_a_supported_one(tmp_path: Path, requirements: Path):
    old = an_unsupported_python()
    venv = tmp_path / "venv"
    subprocess.run([old, "-m", "venv", "--without-pip", str(venv)], check=True)
    result = sh(f'p="$(choose_python bootstrap "{venv}")"; ensure_venv bootstrap "{venv}" "$p" "{requirements}"')
    assert result.returncode == 0, result.stderr
    assert f"recreating {venv} (made by {old};" in result.stderr
    assert sh(f'python_version "{venv}/bin/python"').stdout.strip() in supported_pythons()


def test_changed_requirements_are_installed_again(tmp_path: Path, requirements: Path):
    venv = tmp_path / "venv"
    first = sh(f'ensure_venv test "{venv}" "{RUNNING}" "{requirements}"')
    assert first.returncode == 0, first.stderr
    assert f"installing Python packages into {venv} (Python {RUNNING_VERSION})" in first.stderr
    unchanged = sh(f'ensure_venv test "{venv}" "{RUNNING}" "{requirements}"')
    assert "installing" not in unchanged.stderr
    requirements.write_text(requirements.read_text() + "# edited\n")
    changed = sh(f'ensure_venv test "{venv}" "{RUNNING}" "{requirements}"')
    assert changed.returncode == 0, changed.stderr
    assert "installing Python packages" in changed.stderr
    assert "recreating" not in changed.stderr


def test_the_per_python_virtualenvs_are_neither_committed_nor_deployed():
    # The trailing slash asks about a directory, whether or not it exists yet (a clean clone has none).
    venvs = [".venv-3.12/", ".venv-3.13/", ".venv-checkov/"]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *venvs], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert ignored.stdout.split() == venvs
    funcignore = [line.strip() for line in (ROOT / ".funcignore").read_text().splitlines()]
    for venv in (".venv", ".venv-3.12", ".venv-3.13", ".venv-checkov"):
        assert any(fnmatch.fnmatch(venv, pattern) for pattern in funcignore if pattern), venv
