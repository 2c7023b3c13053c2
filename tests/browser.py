"""Real Chromium (Debian's) driven by Playwright, with every request outside loopback refused."""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from tests.conftest import need

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@dataclass
class PageLog:
    """What a page did: console errors and every URL it asked for."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def outside_loopback(self) -> list[str]:
        return [
            u
            for u in self.requests
            if urlparse(u).scheme in {"http", "https", "ws", "wss"}
            and not _loopback(urlparse(u).hostname)
        ]


def _loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or localhost (tests may serve on 127.0.0.2 to be off "the" loopback)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class Chromium:
    """One headless Debian Chromium; :meth:`page` opens a fresh page (own context) in it."""

    def __init__(self, browser: object) -> None:
        self._browser = browser

    @contextmanager
    def page(self, width: int = 1440, height: int = 1000) -> Iterator[tuple[object, PageLog]]:
        """A page whose requests outside loopback are aborted and logged."""
        log = PageLog()
        context = self._browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
        page = context.new_page()
        page.on(
            "console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda e: log.console_errors.append(str(e)))

        def route(r: object) -> None:
            url = r.request.url  # type: ignore[attr-defined]
            log.requests.append(url)
            host = urlparse(url).hostname
            if urlparse(url).scheme in {"http", "https"} and not _loopback(host):
                r.abort()  # type: ignore[attr-defined]
            else:
                r.continue_()  # type: ignore[attr-defined]

        page.route("**/*", route)
        try:
            yield page, log
        finally:
            context.close()


@contextmanager
def chromium() -> Iterator[Chromium]:
    """Debian Chromium driven by Playwright (skips, or fails under CI, when either is missing)."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    need(Path(executable).exists(), "Debian chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        need(False, "the playwright Python package is not installed")
        raise
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield Chromium(browser)
        finally:
            browser.close()


@contextmanager
def chromium_page(width: int = 1440, height: int = 1000) -> Iterator[tuple[object, PageLog]]:
    """A fresh page in its own headless Debian Chromium (see :class:`Chromium`)."""
    with chromium() as browser, browser.page(width, height) as (page, log):
        yield page, log


def settle(page: object, timeout_ms: int = 30_000) -> None:
    """Wait until the page has no request in flight and no Dash component is loading."""
    page.wait_for_load_state("networkidle", timeout=timeout_ms)  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "!document.querySelector('[data-dash-is-loading=\"true\"]')", timeout=timeout_ms
    )


def open_dashboard(page: object, url: str) -> None:
    """Go to a dashboard page and wait until its panels have rendered."""
    page.goto(url)  # type: ignore[attr-defined]
    page.wait_for_selector(".panel", timeout=30_000)  # type: ignore[attr-defined]
    settle(page)


def screenshot(page: object, name: str) -> Path:
    """A full-page screenshot in test-artifacts/ (looked at by people, not compared)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
