"""Does requirements.lock.txt still match pyproject.toml?

Standard library only: scripts/setup.sh runs it with the system python3 before
installing anything, so CI stops with a clear message when someone edited the
dependencies without re-locking (`bash scripts/lock.sh`).

Checked both ways: every dependency of pyproject.toml (and of its dev extra) is in
the lock at a version its specifier allows, and every package the lock says comes
from pyproject.toml (`# via chiso766 (pyproject.toml)`) is still asked for there.
Dependencies of dependencies are checked after the install by `pip check`.
"""

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_MARK = "(pyproject.toml)"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_requirements(pyproject_text: str) -> dict[str, str]:
    """name -> version specifier, for the dependencies and the dev extra."""
    project = tomllib.loads(pyproject_text)["project"]
    lines = list(project.get("dependencies", []))
    lines += project.get("optional-dependencies", {}).get("dev", [])
    wanted = {}
    for line in lines:
        match = _REQ.match(line)
        wanted[normalize(match.group(1))] = match.group(2).strip()
    return wanted


def locked_versions(lock_text: str) -> tuple[dict[str, set[str]], set[str]]:
    """name -> the versions pinned (one per marker), and the names pyproject.toml asked for."""
    versions: dict[str, set[str]] = {}
    direct: set[str] = set()
    current = None
    for line in lock_text.splitlines():
        pin = _PIN.match(line)
        if pin:
            current = normalize(pin.group(1))
            versions.setdefault(current, set()).add(pin.group(2))
        elif current and line.lstrip().startswith("#") and PROJECT_MARK in line:
            direct.add(current)
    return versions, direct


def _allows(specifier: str, version: str) -> bool:
    if not specifier:
        return True
    if re.fullmatch(r"==\s*[^,*]+", specifier):
        return specifier[2:].strip() == version
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # the system python3 has pip's copy
        from pip._vendor.packaging.specifiers import SpecifierSet
    return SpecifierSet(specifier).contains(version, prereleases=True)


def disagreements(pyproject_text: str, lock_text: str) -> list[str]:
    wanted = project_requirements(pyproject_text)
    versions, direct = locked_versions(lock_text)
    problems = []
    for name, spec in sorted(wanted.items()):
        if name not in versions:
            problems.append(f"{name}{spec} is in pyproject.toml but not in the lock")
            continue
        bad = sorted(v for v in versions[name] if not _allows(spec, v))
        if bad:
            problems.append(
                f"pyproject.toml asks for {name}{spec}, the lock pins {name}=={', '.join(bad)}"
            )
    for name in sorted(direct - wanted.keys()):
        problems.append(
            f"{name} is locked as a dependency of pyproject.toml, which no longer has it"
        )
    return problems


def main() -> int:
    lock = ROOT / "requirements.lock.txt"
    if not lock.exists():
        print(f"{lock} is missing: run `bash scripts/lock.sh`", file=sys.stderr)
        return 1
    problems = disagreements((ROOT / "pyproject.toml").read_text(), lock.read_text())
    if problems:
        print("requirements.lock.txt does not match pyproject.toml:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(
            "Re-lock with `bash scripts/lock.sh` and commit requirements.lock.txt.", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
