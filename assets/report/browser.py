"""Open a scorecard in headless Chromium: what a reader's browser would render.

    python -m assets.report.browser PAGE.html [SHOT.png]   # screenshot, full page

Chromium comes from Debian (scripts/ensure_browser.sh installs it). It is run
offline: no background networking, no component updates, a throwaway profile.
"""

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
WIDTH = 1100


class BrowserMissing(RuntimeError):
    pass


def find_chromium() -> str:
    for name in CANDIDATES:
        if path := shutil.which(name):
            return path
    raise BrowserMissing("no Chromium on PATH: run `bash scripts/ensure_browser.sh` "
                         "(installs Debian's chromium)")


def _chromium(args: list[str], timeout_s: float) -> str:
    with tempfile.TemporaryDirectory(prefix="chiso-chromium-") as profile:
        done = subprocess.run(
            [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
             "--hide-scrollbars", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(page: Path, timeout_s: float = 90, width: int = WIDTH,
             extra: tuple[str, ...] = ()) -> str:
    """The DOM after the page's scripts ran (its load event included)."""
    return _chromium([f"--window-size={width},1000", "--virtual-time-budget=5000", *extra,
                      "--dump-dom", page.resolve().as_uri()], timeout_s)


def print_pdf(page: Path, pdf: Path, timeout_s: float = 90) -> Path:
    """Chromium's print-to-PDF of the page (its @page A4 print stylesheet), no header."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf.with_name(f".{pdf.name}.tmp")
    _chromium(["--no-pdf-header-footer", "--virtual-time-budget=5000",
               f"--print-to-pdf={tmp.resolve()}", page.resolve().as_uri()], timeout_s)
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF for {page}")
    tmp.replace(pdf)
    return pdf


def body_marks(dom: str) -> dict[str, str]:
    """The data-* attributes the page's own script set on <body>."""
    body = re.search(r"<body([^>]*)>", dom)
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1))) if body else {}


def screenshot(page: Path, png: Path, timeout_s: float = 90, width: int = WIDTH,
               height: int | None = None) -> Path:
    """A full-page PNG: the page's script reports its height first."""
    if height is None:
        height = int(body_marks(dump_dom(page, timeout_s)).get("page-height") or 3000)
    png.parent.mkdir(parents=True, exist_ok=True)
    _chromium([f"--window-size={width},{height + 20}", "--virtual-time-budget=5000",
               f"--screenshot={png.resolve()}", page.resolve().as_uri()], timeout_s)
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path, nargs="?")
    args = parser.parse_args()
    print(screenshot(args.page, args.png or args.page.with_suffix(".png")))


if __name__ == "__main__":
    main()
