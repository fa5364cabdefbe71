"""The inbox folder: which files may be read, when, and under which names they are kept.

Pure functions (no Dagster), shared by the import job and the inbox sensor:

- a name given in run config, or found in the folder, must be a plain file *inside* the
  inbox: no ``..``, no absolute path, no separator, no symlink (``inside_inbox``);
- a file still being copied is left alone until it is stable: size and mtime unchanged
  across two looks ``settle_s`` seconds apart, and no temporary name (``.part``,
  ``.crdownload``, ``~$…``, ``.tmp``, hidden files) (``stable_files``);
- names written by the import (raw copy, imported/, rejected/ and the ``.rejected.json``
  sidecar) are shortened by *bytes*, keeping the extension (``fit_name``);
- the sensor's run key includes each file's size, mtime and ctime (the drop time), so the
  same file dropped again is imported again (``inbox_key``).
"""

import hashlib
import os
import re
import time
from pathlib import Path

NAME_MAX = 255  # bytes, the usual file system limit for one path segment
SIDECAR_SUFFIX = ".rejected.json"
TEMP_SUFFIXES = (".part", ".crdownload", ".download", ".partial", ".tmp", ".temp", ".opdownload")
TEMP_PREFIXES = (".", "~$", "~lock.")


class InboxRefused(ValueError):
    """A name that does not designate a plain file inside the inbox."""


def is_temporary(name: str) -> bool:
    """A browser/Office/copy tool's name for a file still being written."""
    lower = name.lower()
    return lower.startswith(TEMP_PREFIXES) or lower.endswith(TEMP_SUFFIXES)


def inside_inbox(inbox: Path, name: str) -> Path:
    """The path of ``name`` in the inbox, or InboxRefused saying why it is not allowed."""
    if not name or name in (".", ".."):
        raise InboxRefused(f"{name!r}: not a file name")
    if "\x00" in name:
        raise InboxRefused(f"{name!r}: NUL in the name")
    if os.path.isabs(name) or name.startswith(("/", "\\")):
        raise InboxRefused(f"{name!r}: an absolute path; give a file name inside {inbox}")
    if "/" in name or "\\" in name or ".." in Path(name).parts:
        raise InboxRefused(f"{name!r}: a path, not a file name inside {inbox}")
    path = inbox / name
    if path.is_symlink():
        raise InboxRefused(f"{name!r}: a symbolic link (to {os.readlink(path)}); links are "
                           "never followed out of the inbox")
    root = inbox.resolve()
    if path.resolve().parent != root:
        raise InboxRefused(f"{name!r}: resolves outside {inbox}")
    return path


def pending_files(inbox: Path) -> list[Path]:
    """Plain files waiting in the inbox: no folders, no symlinks, no temporary names."""
    if not inbox.is_dir():
        return []
    return sorted(p for p in inbox.iterdir()
                  if not p.is_symlink() and p.is_file() and not is_temporary(p.name))


def _look(paths: list[Path]) -> dict[Path, tuple[int, int] | None]:
    out = {}
    for p in paths:
        try:
            st = p.stat()
            out[p] = (st.st_size, st.st_mtime_ns)
        except OSError:
            out[p] = None
    return out


def stable_files(paths: list[Path], settle_s: float,
                 wait=time.sleep) -> tuple[list[Path], list[Path]]:
    """(stable, still changing): size and mtime unchanged across two looks ``settle_s``
    apart. A file that vanished in between is in neither list."""
    if not paths:
        return [], []
    first = _look(paths)
    if settle_s > 0:
        wait(settle_s)
    second = _look(paths)
    stable = [p for p in paths if first[p] is not None and first[p] == second[p]]
    moving = [p for p in paths if second[p] is not None and first[p] != second[p]]
    return stable, moving


def _cut_utf8(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")[:max(max_bytes, 0)]
    return data.decode("utf-8", errors="ignore")  # never half a character


def fit_name(name: str, max_bytes: int = NAME_MAX) -> str:
    """``name`` shortened to ``max_bytes`` UTF-8 bytes, keeping its extension; a short
    hash of the full name marks a shortened one so two long names stay distinct."""
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    stem, suffix = os.path.splitext(name)
    if len(suffix.encode("utf-8")) > 16:  # not an extension, just a dot in a long name
        stem, suffix = name, ""
    tag = "~" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    room = max_bytes - len(suffix.encode("utf-8")) - len(tag)
    return _cut_utf8(stem, room) + tag + suffix


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_file_name(name: str, max_bytes: int = 120) -> str:
    """An ASCII name for a copy in the raw layer: unsafe characters replaced, never a
    leading dot, shortened by bytes with the extension kept."""
    stem, suffix = os.path.splitext(name)
    clean = (_UNSAFE.sub("_", stem).strip("._") or "_") + _UNSAFE.sub("_", suffix)
    return fit_name(clean, max_bytes)


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks (a HAR may be hundreds of MB)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def inbox_key(paths: list[Path]) -> str:
    """The sensor's run key for a set of files: name, content, size, mtime and ctime.
    ctime changes whenever a file is (re)placed in the folder, so a file dropped again,
    even with the same bytes and a preserved mtime, gets a new key."""
    key = hashlib.sha256()
    for path in sorted(paths):
        st = path.stat()
        key.update(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0"
                   f"{file_sha256(path)}".encode())
    return f"inbox-{key.hexdigest()[:16]}"
