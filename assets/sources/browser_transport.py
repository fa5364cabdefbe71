"""The opt-in browser transport (``CHISO_PORTAL_TRANSPORT=browser``).

Some networks get every scripted POST to the portal reset by its firewall, while the
same requests made by a browser on the portal's own dashboard are answered. This
transport sends the crawl's requests from a real headless Chromium instead: it opens
one public page of the portal (``CHISO_PORTAL_BROWSER_PAGE``, relative to
``CHISO_PORTAL_URL``), then POSTs each request with the page's own ``fetch()``, so
the page's cookies and the browser's own network stack apply.

It only replaces the one point where ``LivePortalClient`` sends a request and reads
the answer: the pause, one request in flight, the retries, the raw capture and the
stop rules (401/403, a firewall page → safety stop) stay in ``portal.py``, shared.

What it never does: fake an identity (the user agent stays Chromium's own, which says
``HeadlessChrome``), rotate addresses, solve CAPTCHAs, or hide what it is. If the
portal refuses the browser too, the crawl stops and says to use the HAR path.

Playwright's Python package drives Debian's Chromium (``/usr/bin/chromium``,
``scripts/ensure_browser.sh``); no browser is ever downloaded. Playwright is
imported only when this transport is used.
"""

import base64
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from requests.structures import CaseInsensitiveDict

from .endpoints import DEFAULT_PAGE
from .portal import NoAnswer, looks_like_rejection

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
# Offline and quiet: no sync, no component updates, no background calls home.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-default-apps",
                  "--metrics-recording-only")

BROWSER_REFUSED_ADVICE = (
    "The portal refused the browser too: do not try again from this machine. Use the HAR "
    "path (docs/operations.md, 'Three ways in'): open the portal's public evaluation pages "
    "in an ordinary browser, save the network log as a HAR ('Save all as HAR with "
    "content') and drop the .har in <data>/inbox/.")

# Runs inside the page: one POST with the page's cookies, the answer's bytes as base64.
# A network failure (reset, refused, aborted by the timeout) comes back as {error: ...}.
_FETCH_JS = """
async ({url, body, form, timeoutMs}) => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const init = {method: "POST", credentials: "same-origin", signal: controller.signal,
                  headers: {"Accept": "application/json"}};
    if (form) {
      init.body = new URLSearchParams({params: body});
    } else {
      init.headers["Content-Type"] = "application/json";
      init.body = body;
    }
    const r = await fetch(url, init);
    const bytes = new Uint8Array(await r.arrayBuffer());
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return {status: r.status, url: r.url, headers: Object.fromEntries(r.headers.entries()),
            body: btoa(text)};
  } catch (e) {
    return {error: String(e && e.name === "AbortError" ? "timed out" : e)};
  } finally {
    clearTimeout(timer);
  }
}
"""


class BrowserUnavailable(RuntimeError):
    """No Chromium, or no Playwright: the browser transport cannot start at all."""


@dataclass
class BrowserAnswer:
    """One answer, with the attributes of a ``requests.Response`` the client reads."""

    status_code: int
    headers: CaseInsensitiveDict
    content: bytes
    url: str


def find_chromium(preferred: str | None = None) -> str:
    for name in ((preferred,) if preferred else CHROMIUM_CANDIDATES):
        path = name if Path(name).is_file() else shutil.which(name)
        if path:
            return path
    wanted = preferred or " or ".join(CHROMIUM_CANDIDATES)
    raise BrowserUnavailable(
        f"CHISO_PORTAL_TRANSPORT=browser needs Chromium ({wanted}), not found: run "
        "`bash scripts/ensure_browser.sh` (installs Debian's chromium)")


def check_browser(executable: str | None = None) -> str:
    """The Chromium to drive; raises BrowserUnavailable when it or Playwright is missing."""
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        raise BrowserUnavailable("CHISO_PORTAL_TRANSPORT=browser needs the playwright package "
                                 "(bash scripts/setup.sh installs it)")
    return find_chromium(executable)


class BrowserTransport:
    """Sends the live client's requests from a page of the portal in headless Chromium.

    The browser starts on the first request, in the thread that makes it (Playwright's
    sync API belongs to one thread), and ``close()`` ends it, its cookies with it.
    """

    def __init__(self, base_url: str, page: str = DEFAULT_PAGE, *,
                 executable: str | None = None, page_timeout_s: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.page_url = urljoin(self.base_url + "/", page.lstrip("/")) if page else self.base_url
        self.executable = executable
        self.page_timeout_s = page_timeout_s
        self.description = f"browser transport: headless Chromium on {self.page_url}"
        self.refusal_advice = BROWSER_REFUSED_ADVICE
        self._playwright = None
        self._browser = None
        self._page = None
        self._sending: str | None = None  # the URL of our request in flight, if any
        self.blocked: list[str] = []  # requests of the page's own scripts, not let out
        self.opened: dict | None = None  # status and final URL of the page, once opened

    # --- lifecycle --------------------------------------------------------------

    def _start(self) -> None:
        executable = check_browser(self.executable)
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS))
            # an off-the-record context: the page's cookies stay in memory, never on disk,
            # and end with the crawl step
            context = self._browser.new_context(accept_downloads=False)
        except Exception:
            self.close()
            raise
        self._page = context.pages[0] if context.pages else context.new_page()
        self._page.route("**/*", self._route)

    def _route(self, route) -> None:
        """One request in flight: the page's own scripts may not call the portal's API
        (a dashboard queries it as it loads); only our request goes out, once. Images,
        fonts and media are not fetched either: the crawl does not need them."""
        request = route.request
        kind = request.resource_type
        if kind in ("fetch", "xhr", "eventsource", "websocket"):
            if self._sending is not None and request.url == self._sending:
                self._sending = None  # ours, let out once
                return route.continue_()
            self.blocked.append(f"{request.method} {request.url}")
            return route.abort("blockedbyclient")
        if kind in ("image", "media", "font"):
            return route.abort("blockedbyclient")
        return route.continue_()

    def _open_page(self) -> BrowserAnswer | None:
        """Open the public page once. A refusal there is returned as the answer, so the
        client's shared stop rules (401/403, a firewall page) stop the crawl and keep it."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            response = self._page.goto(self.page_url, wait_until="load",
                                       timeout=self.page_timeout_s * 1000)
        except PlaywrightError as exc:
            raise NoAnswer(f"the browser could not open {self.page_url}: "
                           f"{str(exc).splitlines()[0]}",
                           reset="ERR_CONNECTION_RESET" in str(exc)
                           or "ERR_EMPTY_RESPONSE" in str(exc)) from None
        status = response.status if response is not None else 0
        body = response.body() if response is not None else b""
        # a firewall's rejection page is short; a dashboard's scripts may say "blocked"
        if status in (401, 403) or (len(body) < 8192 and looks_like_rejection(body)):
            headers = CaseInsensitiveDict(response.headers if response is not None else {})
            return BrowserAnswer(status, headers, body, self._page.url)
        if status >= 400:
            raise NoAnswer(f"the browser opened {self.page_url} but got HTTP {status}")
        self.opened = {"status": status, "url": self._page.url}
        return None

    def close(self) -> None:
        for step in (lambda: self._browser and self._browser.close(),
                     lambda: self._playwright and self._playwright.stop()):
            try:
                step()
            except Exception:  # closing what is already gone
                pass
        self._browser = self._page = self._playwright = None
        self.opened = None

    # --- the one request -----------------------------------------------------------

    def post(self, url: str, payload: dict, *, form_encoded: bool = False,
             timeout_s: float = 60.0) -> BrowserAnswer:
        if self._page is None:
            self._start()
        if self.opened is None and (refused := self._open_page()) is not None:
            return refused
        body = json.dumps(payload, ensure_ascii=False)
        self._sending = url
        try:
            result = self._page.evaluate(_FETCH_JS, {"url": url, "body": body,
                                                     "form": form_encoded,
                                                     "timeoutMs": int(timeout_s * 1000)})
        finally:
            self._sending = None
        if "error" in result:
            self.opened = None  # the next attempt opens the page again first, as a person would
            # fetch() says only "Failed to fetch" for a reset, a refusal or a dropped
            # connection; the page that was answered moments ago makes a reset likely.
            raise NoAnswer(f"the browser's fetch of {url} failed: {result['error']}",
                           reset=result["error"] != "timed out")
        return BrowserAnswer(result["status"], CaseInsensitiveDict(result["headers"]),
                             base64.b64decode(result["body"]), result["url"])

