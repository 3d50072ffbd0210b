"""The Gradio app in real headless Chromium at a 900 px window: what a browser review found wrong.

Screenshots go to `test-artifacts/browser/gradio-*.png`, light and dark.
"""

from __future__ import annotations

import os

import pytest
from browser_support import ARGS, ARTIFACTS, CHROMIUM, require_chromium
from helpers import free_port, wait_for_http

require_chromium()
playwright = pytest.importorskip("playwright.sync_api")
pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def gradio_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("gradio-home")
    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    from workbench.app import launch

    port = free_port()
    app = launch("127.0.0.1", port, block=False)
    url = f"http://127.0.0.1:{port}/"
    wait_for_http(url, 60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield url
    app.close()
    if old is None:
        os.environ.pop("WORKBENCH_HOME", None)
    else:
        os.environ["WORKBENCH_HOME"] = old


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _page(browser, url: str, scheme: str):
    page = browser.new_page(viewport={"width": 900, "height": 900}, color_scheme=scheme)
    page.goto(url + ("?__theme=dark" if scheme == "dark" else "?__theme=light"))
    page.wait_for_selector("button[role='tab']", timeout=60000)
    return page


def _no_sideways_scroll(page) -> None:
    wide = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert wide <= 0, f"the page scrolls sideways by {wide} px"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_generated_image_is_shown_whole_inside_its_gallery(gradio_url, browser, scheme):
    """A 64 px image was drawn 1196 px wide in a 420 px gallery and cropped."""
    page = _page(browser, gradio_url, scheme)
    page.get_by_role("tab", name="Multimodal").click()
    shown = lambda label: page.get_by_label(label, exact=True).locator("visible=true").first  # noqa: E731
    shown("size (px)").fill("64")
    shown("steps").fill("2")
    shown("tiny random model (no weights needed)").check()
    page.get_by_role("button", name="Generate").click()
    image = page.locator("#wb-t2i-gallery img").first
    page.get_by_text("image 0: seed 0").first.wait_for(timeout=120000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"gradio-text-to-image-{scheme}.png"), full_page=True)
    gallery = page.locator("#wb-t2i-gallery").bounding_box()
    box = image.bounding_box()
    assert gallery and box
    assert box["width"] <= gallery["width"] + 1 and box["height"] <= gallery["height"] + 1, (box, gallery)
    shown = page.evaluate("""(img) => {
        const r = img.getBoundingClientRect(), fit = getComputedStyle(img).objectFit;
        return {fit, w: r.width, h: r.height, nw: img.naturalWidth, nh: img.naturalHeight};
    }""", image.element_handle())
    assert shown["fit"] in ("contain", "scale-down"), shown  # the whole picture, letterboxed, never cropped
    _no_sideways_scroll(page)
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_devices_table_has_one_header_per_column(gradio_url, browser, scheme):
    page = _page(browser, gradio_url, scheme)
    page.get_by_role("tab", name="Devices & jobs").click()
    grid = page.locator("#wb-devices [role='grid']").first
    page.locator("#wb-devices [role='gridcell']").first.wait_for(timeout=60000)
    page.screenshot(path=str(ARTIFACTS / f"gradio-devices-{scheme}.png"), full_page=True)
    headers = [h.strip().lower() for h in page.locator("#wb-devices [role='columnheader']").all_inner_texts()]
    assert len(headers) == int(grid.get_attribute("aria-colcount")), headers  # 7 headers over 8 columns before
    assert headers[:4] == ["id", "kind", "backend", "name"]
    page.close()


def test_the_grasp_learning_chart_draws_its_curves(gradio_url, browser):
    """It showed axes and no line ("Infinite extent" warnings): the empty chart it started with stuck."""
    page = _page(browser, gradio_url, "light")
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text))
    page.get_by_role("tab", name="Grasping").click()
    page.get_by_text("Learn grasps: simulate a dataset").click()
    shown = lambda label: page.get_by_label(label, exact=True).locator("visible=true").first  # noqa: E731
    shown("procedural objects").fill("2")
    shown("grasps per object").fill("4")
    shown("epochs").fill("3")
    page.get_by_role("button", name="Simulate and train").click()
    status = shown("status")
    page.wait_for_function("el => el.value.includes('antipodal grasps on held-out')", arg=status.element_handle(),
                           timeout=300000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "gradio-grasp-learning.png"), full_page=True)
    lines = page.locator(".vega-embed svg g.mark-line path")
    assert lines.count() == 3  # train loss, validation loss, top-10 success
    assert all(len(lines.nth(i).get_attribute("d") or "") > 10 for i in range(3))
    assert not [w for w in warnings if "Infinite extent" in w], warnings
    page.close()


def _luminance(png: bytes) -> float:
    import io

    from PIL import Image, ImageStat

    return ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L")).mean[0] / 255


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_3d_view_follows_the_colour_scheme(gradio_url, browser, scheme):
    """The conformer's 3D view stayed light grey in dark mode: its background is the theme's now."""
    page = _page(browser, gradio_url, scheme)
    page.get_by_role("button", name="Generate conformers").click()
    canvas = page.locator("canvas").first
    canvas.wait_for(timeout=120000)
    page.wait_for_timeout(1500)  # the model loads into the canvas
    page.screenshot(path=str(ARTIFACTS / f"gradio-molecules-{scheme}.png"), full_page=True)
    brightness = _luminance(canvas.screenshot())
    assert (brightness < 0.4) if scheme == "dark" else (brightness > 0.6), (scheme, brightness)
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_tab_is_shown_and_fits_900_px(gradio_url, browser, scheme):
    """A screenshot of each tab, light and dark, for review; none scrolls sideways."""
    page = _page(browser, gradio_url, scheme)
    tabs = page.locator("button[role='tab']")
    names = [t.strip() for t in tabs.all_inner_texts()]
    assert len(names) >= 4, names
    for k, name in enumerate(names):
        page.get_by_role("tab", name=name).click()
        page.wait_for_timeout(400)
        page.screenshot(path=str(ARTIFACTS / f"gradio-tab-{k}-{scheme}.png"), full_page=True)
        _no_sideways_scroll(page)
    page.close()
