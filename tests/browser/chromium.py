"""Headless Chromium for the browser tests: Debian's `chromium` driven through its matched `chromedriver` by
selenium, and the checks a page must pass (no console errors, every image decoded, a screenshot that is not
blank). `chromium_or_skip` skips with the reason when the browser cannot start, or fails under
CRMFLOW_REQUIRE_SERVICES=1, as the service fixtures do."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
from services import ServiceUnavailable

REQUIRE_SERVICES = os.environ.get("CRMFLOW_REQUIRE_SERVICES") == "1"
CHROMIUM = "/usr/bin/chromium"  # Debian's package `chromium`
CHROMEDRIVER = "/usr/bin/chromedriver"  # Debian's package `chromium-driver`, the same version
WINDOW = (1280, 2000)
# --no-sandbox: Chromium refuses to start as root with its sandbox; /dev/shm is small in containers.
ARGUMENTS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
PAGE_TIMEOUT = 60  # seconds for a page (and its scripts) to load
MIN_COLOURS = 8  # a screenshot with fewer distinct colours, or a flat one, is blank
MIN_STD = 5.0  # standard deviation of its grey levels (0-255)

# Images whose element is complete but which did not decode have naturalWidth 0.
_IMAGES_JS = "return Array.from(document.images, i => [i.getAttribute('src') || '', i.complete, i.naturalWidth]);"


def _binary(path: str, package: str) -> str:
    """`path` if executable, else the same name on PATH; ServiceUnavailable naming the Debian package if neither."""
    found = path if os.access(path, os.X_OK) else shutil.which(Path(path).name)
    if found is None:
        raise ServiceUnavailable(
            f"{Path(path).name} not found at {path} nor on PATH; install: apt-get install {package}"
        )
    return found


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium selenium WebDriver, browser console logged; quit afterwards."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise ServiceUnavailable(f"selenium is not installed ({error}); pip install -e '.[dev]'") from error
    options = webdriver.ChromeOptions()
    options.binary_location = _binary(CHROMIUM, "chromium")
    for argument in [*ARGUMENTS, f"--window-size={WINDOW[0]},{WINDOW[1]}"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(_binary(CHROMEDRIVER, "chromium-driver"))
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as error:
        raise ServiceUnavailable(f"headless Chromium did not start: {error.msg or error}") from error
    try:
        driver.set_page_load_timeout(PAGE_TIMEOUT)
        yield driver
    finally:
        driver.quit()


def unavailable(reason: str) -> NoReturn:
    """Skip the test with the reason why a service or the browser is missing; fail instead under
    CRMFLOW_REQUIRE_SERVICES=1 (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CRMFLOW_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def chromium_or_skip() -> Iterator[Any]:
    """Yield a `chromium()` driver, or `unavailable` with the reason it cannot start."""
    try:
        with chromium() as driver:
            yield driver
            return
    except ServiceUnavailable as error:
        reason = str(error)
    unavailable(reason)


def load(driver: Any, url: str) -> None:
    """Open `url` with the console log emptied first, so `console_errors` then reports this page's only."""
    driver.get_log("browser")
    driver.get(url)


def console_errors(driver: Any) -> list[str]:
    """The SEVERE browser-console messages since the last call (script errors, resources that failed to load)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def broken_images(driver: Any) -> list[str]:
    """The src of every <img> of the page that is not complete or did not decode (natural width 0)."""
    return [src[:80] for src, complete, width in driver.execute_script(_IMAGES_JS) if not complete or width <= 0]


def image_count(driver: Any) -> int:
    """How many <img> elements the page has."""
    return len(driver.execute_script(_IMAGES_JS))


def missing_ids(driver: Any, ids: list[str]) -> list[str]:
    """Those of `ids` that no element of the page has."""
    return [i for i in ids if not driver.execute_script("return document.getElementById(arguments[0]) !== null;", i)]


def element_text(driver: Any, element_id: str) -> str:
    """The text content of the element with this id ("" when there is none)."""
    script = "const e = document.getElementById(arguments[0]); return e === null ? '' : e.textContent;"
    return driver.execute_script(script, element_id)


def blank_reason(png: bytes) -> str | None:
    """Why a screenshot is blank (too few distinct colours, or flat grey levels), or None when it is not."""
    from PIL import Image, ImageStat

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=MIN_COLOURS)  # None: more than MIN_COLOURS distinct colours
    if colours is not None:
        return f"only {len(colours)} distinct colours in a {image.width}x{image.height} screenshot"
    std = ImageStat.Stat(image.convert("L")).stddev[0]
    return f"grey-level standard deviation {std:.2f} < {MIN_STD}" if std < MIN_STD else None
