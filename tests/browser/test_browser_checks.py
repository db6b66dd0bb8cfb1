"""The browser checks themselves, on hand-written pages: they pass a sound page and catch a broken image, a
console error, a missing section and a blank screenshot (so the report and mlflow ui tests can fail)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromium
import pytest
from chromium import blank_reason, broken_images, chromium_or_skip, console_errors, image_count, load, missing_ids
from PIL import Image


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium_or_skip()


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _page(folder: Path, body: str) -> str:
    """A file:// URL of an HTML page with `body`."""
    path = folder / "page.html"
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body>{body}</body></html>"
    )
    return path.as_uri()


SOUND = (
    "<section id='section-data'><h1>crmflow run</h1><p>Some text in a paragraph, and a table:</p>"
    "<table border=1><tr><td>silhouette</td><td>0.41</td></tr></table></section>"
    "<section id='section-rules'><img alt='plot' src='data:image/png;base64,{png}'>"
    "<img alt='file' src='plot.png'></section>"
)


def test_a_sound_page_passes(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "plot.png").write_bytes(_png((30, 20), (0, 0, 255)))
    png = base64.b64encode(_png((40, 30), (200, 30, 30))).decode()
    load(browser, _page(tmp_path, SOUND.format(png=png)))
    assert console_errors(browser) == []
    assert image_count(browser) == 2 and broken_images(browser) == []
    assert browser.execute_script("return document.images[1].naturalWidth;") == 30
    assert missing_ids(browser, ["section-data", "section-rules"]) == []
    assert blank_reason(browser.get_screenshot_as_png()) is None


def test_the_checks_catch_a_broken_page(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "corrupt.png").write_bytes(b"not a png at all")
    good = base64.b64encode(_png((5, 5), (0, 128, 0))).decode()
    body = (
        "<section id='section-data'><p>text</p><img src='missing.png'><img src='corrupt.png'>"
        f"<img src='data:image/png;base64,{good}'></section><script>console.error('crmflow test: boom');</script>"
    )
    load(browser, _page(tmp_path, body))
    assert broken_images(browser) == ["missing.png", "corrupt.png"]
    errors = console_errors(browser)
    assert any("crmflow test: boom" in e for e in errors), errors
    assert any("missing.png" in e and "ERR_FILE_NOT_FOUND" in e for e in errors), errors
    assert missing_ids(browser, ["section-data", "section-rules"]) == ["section-rules"]


def test_an_empty_page_screenshot_is_blank(browser: Any, tmp_path: Path) -> None:
    load(browser, _page(tmp_path, ""))
    assert blank_reason(browser.get_screenshot_as_png()).startswith("only 1 distinct colours")


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("RGB", (100, 80), (255, 255, 255)), "only 1 distinct colours in a 100x80 screenshot"),
        # 16 grey levels 0..15 in equal stripes: many colours, but a standard deviation of about 4.6 < 5
        (
            Image.frombytes("L", (16, 4), bytes(range(16)) * 4).convert("RGB"),
            "grey-level standard deviation 4.61 < 5.0",
        ),
        # 32 levels 0, 8, ..., 248: standard deviation about 74
        (Image.frombytes("L", (32, 2), bytes(range(0, 256, 8)) * 2).convert("RGB"), None),
    ],
)
def test_blank_reason(image: Image.Image, expected: str | None) -> None:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert blank_reason(buffer.getvalue()) == expected


@pytest.mark.parametrize("required", [False, True])
def test_a_missing_browser_skips_or_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, required: bool
) -> None:
    monkeypatch.setattr(chromium, "CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setattr(chromium, "REQUIRE_SERVICES", required)
    monkeypatch.setenv("PATH", str(tmp_path))
    outcome = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(outcome) as stopped:
        next(chromium_or_skip())
    expected = f"chromium not found at {tmp_path}/chromium nor on PATH; install: apt-get install chromium"
    assert str(stopped.value) == expected + (" (CRMFLOW_REQUIRE_SERVICES=1)" if required else "")
