"""Helpers for the browser tests: a headless Chromium that stays offline.

Every request that does not go to 127.0.0.1 is aborted and recorded, so
a test can assert that nothing left the machine.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def chromium_path() -> str:
    """Debian's chromium, or ``$NBSCALE_CHROMIUM``; skip (fail in CI) if absent."""
    path = os.environ.get("NBSCALE_CHROMIUM") or shutil.which("chromium")
    if path is None or not Path(path).exists():
        _missing("chromium (apt-get install -y chromium)")
    return str(path)


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need {what}")
    pytest.skip(f"browser tests need {what}")


@contextmanager
def offline_page(
    viewport: tuple[int, int] = (1300, 1000),
) -> Iterator[tuple[Any, list[str]]]:
    """A Playwright page whose requests may only reach 127.0.0.1.

    Yields
    ------
    page : playwright.sync_api.Page
    blocked : list of str
        URLs the page tried to reach elsewhere (each was aborted).
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (pip install playwright)")
    executable = chromium_path()
    blocked: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(
                viewport={"width": viewport[0], "height": viewport[1]}
            )
            page.route("**/*", guard)
            # Console lines, printed when a test fails (pytest shows them).
            page.on("console", lambda message: print(f"[console] {message.text}"))
            page.on("pageerror", lambda error: print(f"[pageerror] {error}"))
            yield page, blocked
        finally:
            browser.close()


def save_screenshot(page: Any, folder: Path, name: str) -> Path:
    """Screenshot into the test's folder, and into ``$NBSCALE_SCREENSHOTS``."""
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get("NBSCALE_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / name)
    return path
