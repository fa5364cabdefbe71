"""requirements.lock.txt against pyproject.toml (scripts/check_lock.py, run by setup and CI)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
check_lock = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_lock)

PYPROJECT = (ROOT / "pyproject.toml").read_text()
LOCK = (ROOT / "requirements.lock.txt").read_text()


def test_the_committed_lock_matches_pyproject():
    assert check_lock.disagreements(PYPROJECT, LOCK) == []


def test_a_dependency_added_without_relocking_is_named():
    edited = PYPROJECT.replace('"openpyxl==3.1.5",', '"openpyxl==3.1.5", "tomli-w==1.2.0",')
    assert check_lock.disagreements(edited, LOCK) == [
        "tomli-w==1.2.0 is in pyproject.toml but not in the lock"
    ]


def test_a_changed_pin_and_a_removed_dependency_are_named():
    edited = PYPROJECT.replace('"duckdb==2.0.1"', '"duckdb==2.0.2"').replace(
        '    "msgspec==0.22.0",\n', ""
    )
    assert check_lock.disagreements(edited, LOCK) == [
        "pyproject.toml asks for duckdb==2.0.2, the lock pins duckdb==2.0.1",
        "msgspec is locked as a dependency of pyproject.toml, which no longer has it",
    ]


def test_every_locked_file_has_a_hash_and_no_index_is_named():
    pins = [line for line in LOCK.splitlines() if "==" in line and not line.startswith(" ")]
    assert len(pins) > 100
    assert all(line.endswith("\\") for line in pins)  # a --hash line follows each pin
    assert "://" not in LOCK


def test_the_script_fails_with_the_fix_in_its_message(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "check_lock.py").write_text(
        (ROOT / "scripts" / "check_lock.py").read_text()
    )
    pyproject = PYPROJECT.replace('"ruff==', '"pyyaml==6.0.3", "ruff==')
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "requirements.lock.txt").write_text(LOCK)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "scripts" / "check_lock.py")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "pyproject.toml asks for pyyaml==6.0.3, the lock pins pyyaml==6.0.4" in done.stderr
    assert "bash scripts/lock.sh" in done.stderr
