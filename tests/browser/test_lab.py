"""Real JupyterLab in real headless Chromium (Playwright): sidebar, widgets, cancel, auth.

Screenshots of each step go to `test-artifacts/browser/` (look at them when a test fails).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser_support import ARGS, ARTIFACTS, CHROMIUM, require_chromium
from helpers import free_port, wait_for_http

require_chromium()
playwright = pytest.importorskip("playwright.sync_api")

TOKEN = "workbench-browser-token"


def _notebook(path: Path, source: str) -> None:
    path.write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(root / "home"), "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
           "WORKBENCH_SIMULATED_DEVICES": ""}
    _notebook(root / "molecules.ipynb", "from workbench.widgets import MoleculeWidget\n"
                                        "w = MoleculeWidget('CCO ethanol\\nCCCCCO pentanol"
                                        "\\nC(C)(C)(C)(C)C fivevalent', num_conformers=8)\nw")
    _notebook(root / "dark.ipynb", "from workbench.widgets import MoleculeWidget\n"
                                   "w = MoleculeWidget('CCO ethanol\\nCCCO propanol', num_conformers=4)\nw")
    _notebook(root / "grasping.ipynb",
              "from workbench.widgets import GraspWidget\nw = GraspWidget('can', num_grasps=4)\nw")
    _notebook(root / "fold.ipynb", "from workbench.widgets import MoleculeWidget\n"
                                   "w = MoleculeWidget('MKTAYIAKQR:GSHMLEDP', mode='fold', tiny=True)\nw")
    _notebook(root / "complex.ipynb", "from workbench.widgets import MoleculeWidget\n"
                                      "w = MoleculeWidget('protein: MKTAYIAKQR\\nligand: CCO\\nccd: ATP"
                                      "\\npocket: B: A:3, A:5 @ 6', "
                                      "mode='complex', tiny=True)\nw")
    _notebook(root / "place.ipynb",
              "from workbench.widgets import PlaceWidget\nw = PlaceWidget('put the ball behind the can')\nw")
    _notebook(root / "generation.ipynb",
              "from workbench.widgets import GenerationWidget\n"
              "w = GenerationWidget('a red cube', steps=3, width=64, height=64, tiny=True)\nw")
    _notebook(root / "long.ipynb", "import workbench as wb\njob = wb.submit('count', steps=100000, delay=0.01, "
                                   "device='cpu')\njob.id")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
         '--ServerApp.jpserver_extensions={"workbench.server": True}'],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/api/status?token={TOKEN}", 90, proc)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield {"url": url, "browser": browser, "root": root}
        browser.close()
    proc.terminate()
    proc.wait(30)


def _page(lab, path="lab"):
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{lab['url']}/{path}?reset&token={TOKEN}")  # a fresh workspace: no tabs from earlier tests
    page.wait_for_selector("#jp-main-dock-panel", timeout=60000)
    return page


def _open_sidebar(page):
    page.locator("li[title='workbench: devices and jobs'], [data-id='workbench-devices-jobs']").first.click()
    page.wait_for_selector("#workbench-devices-jobs .wb-device[data-device='cpu']", timeout=30000)


def _run_first_cell(page):
    page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=90000)
    page.locator(".jp-Cell:visible .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    page.locator(".jp-Cell:visible .jp-InputPrompt:has-text('[1]')").first.wait_for(timeout=90000)


def _press_run_and_wait(page, *selectors: str, shot: str, timeout: int = 120000) -> None:
    """Click the visible widget's Run button and wait for each selector; screenshot either way."""
    run = page.locator(".wb-run:visible").first
    run.wait_for(timeout=60000)
    run.click()
    try:
        for selector in selectors:
            page.wait_for_selector(selector, timeout=timeout)
    finally:
        page.screenshot(path=str(ARTIFACTS / shot))


def test_the_api_refuses_requests_without_the_token(lab):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{lab['url']}/workbench/api/jobs", timeout=10)
    assert info.value.code == 403


def test_sidebar_lists_the_cpu_device(lab):
    page = _page(lab)
    _open_sidebar(page)
    assert page.locator("#workbench-devices-jobs .wb-device[data-device='cpu']").count() == 1
    page.screenshot(path=str(ARTIFACTS / "1-sidebar.png"))
    page.close()


def test_the_sidebar_shows_who_runs_and_waits_on_each_device(lab):
    """A teacher's view: the owners holding and waiting for a device's slots, from every home on the pool."""
    from workbench.jobs.store import ResultStore

    pool = ResultStore(lab["root"] / "home").pool  # the pool the Jupyter server reads (its store's own)
    try:
        assert pool.try_lease("cpu", 99, "teacher-view-1", owner="ann", task="fold")
        assert pool.try_lease("cpu", 99, "teacher-view-2", owner="bob", task="conformers")
        assert not pool.try_lease("cpu", 0, "teacher-view-3", owner="cy", task="count")  # no slot: it waits
        page = _page(lab)
        _open_sidebar(page)
        who = page.wait_for_selector("#workbench-devices-jobs .wb-device[data-device='cpu'] .wb-who", timeout=30000)
        assert who.text_content() == "running ann, bob · 1 waiting (cy)"
        title = who.get_attribute("title")
        assert "ann: fold running for" in title and "cy: count waiting for" in title
        page.screenshot(path=str(ARTIFACTS / "sidebar-who.png"))
        page.close()
    finally:
        pool.release("cpu", "teacher-view-1")
        pool.release("cpu", "teacher-view-2")
        pool.withdraw("cpu", "teacher-view-3")


def _put_setting(lab, plugin: str, values: dict) -> None:
    """A plugin's settings through JupyterLab's settings API (what the Settings editor writes)."""
    body = json.dumps({"raw": json.dumps(values)}).encode()
    request = urllib.request.Request(f"{lab['url']}/lab/api/settings/{plugin}", data=body, method="PUT",
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()


def test_sidebar_shows_memory_in_use_a_history_filters_and_its_refresh_setting(lab):
    import psutil

    env = {**os.environ, "WORKBENCH_HOME": str(lab["root"] / "home"), "WORKBENCH_SIMULATED_DEVICES": ""}
    subprocess.run([sys.executable, "-m", "workbench", "run", "count", "--steps", "3", "--device", "cpu", "--quiet"],
                   env=env, check=True, capture_output=True, timeout=120)  # a finished job to filter
    _put_setting(lab, "workbench-lab:plugin", {"refreshInterval": 0.5, "jobsShown": 20})
    try:
        page = _page(lab)
        _open_sidebar(page)
        page.wait_for_selector("#workbench-devices-jobs[data-refresh='0.5']", state="attached", timeout=30000)
        use = page.locator("#workbench-devices-jobs .wb-device[data-device='cpu'] .wb-use")
        total_gib = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
        assert use.inner_text().strip().endswith(total_gib) and "%" in use.inner_text()
        assert int(use.get_attribute("data-memory-used")) > 0
        # the history grows at the set interval: several points after a few seconds
        page.wait_for_function("() => (document.querySelector(\"#workbench-devices-jobs .wb-device[data-device='cpu'] "
                               ".wb-chart path.wb-trace\")?.getAttribute('d') || '').split('L').length >= 5",
                               timeout=15000)
        page.screenshot(path=str(ARTIFACTS / "1c-sidebar-usage.png"))
        succeeded = "#workbench-devices-jobs .wb-job[data-state='succeeded']"
        page.wait_for_selector(succeeded, timeout=15000)
        page.select_option("#workbench-devices-jobs .wb-filter-state", "failed")  # failed and cancelled only
        page.wait_for_function(f"() => !document.querySelector({json.dumps(succeeded)})", timeout=10000)
        page.select_option("#workbench-devices-jobs .wb-filter-state", "all")
        page.fill("#workbench-devices-jobs .wb-filter-task", "count")
        page.wait_for_selector(succeeded, timeout=10000)
        page.fill("#workbench-devices-jobs .wb-filter-task", "no-such-task")
        page.wait_for_selector("#workbench-devices-jobs .wb-empty:has-text('match')", timeout=10000)
        page.close()
    finally:
        _put_setting(lab, "workbench-lab:plugin", {})


def test_sidebar_drains_and_undrains_a_device(lab):
    from workbench.jobs.store import ResultStore

    page = _page(lab)
    _open_sidebar(page)
    row = "#workbench-devices-jobs .wb-device[data-device='cpu']"
    page.locator(f"{row} .wb-drain").click()
    page.wait_for_selector(f"{row}[data-drained='true']", timeout=15000)
    assert "cpu" in ResultStore(lab["root"] / "home").drained()  # every kernel now moves its jobs off it
    assert page.locator(f"{row} .wb-drain").inner_text() == "Undrain"
    page.screenshot(path=str(ARTIFACTS / "1b-sidebar-drained.png"))
    page.locator(f"{row} .wb-drain").click()
    page.wait_for_selector(f"{row}[data-drained='false']", timeout=15000)
    assert "cpu" not in ResultStore(lab["root"] / "home").drained()
    page.close()


def test_molecule_widget_runs_and_renders(lab):
    page = _page(lab, "lab/tree/molecules.ipynb")
    _run_first_cell(page)
    root = page.locator(".wb-mol")
    try:
        root.wait_for(timeout=60000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "2-molecule-cell.png"))
    count_box = page.locator(".wb-mol input.wb-num")  # bounded by the request's declared limits
    assert (count_box.get_attribute("min"), count_box.get_attribute("max")) == ("1", "5000")
    assert count_box.get_attribute("title") == "conformers per molecule"
    _press_run_and_wait(page, ".wb-mol[data-state='succeeded'][data-models]", shot="2-molecule-run.png")
    assert page.locator(".wb-mol progress").get_attribute("value") in ("1", "1.0")
    assert int(root.get_attribute("data-models")) >= 2
    # the headline keeps its lines (one per molecule), as the CLI prints it; they ran together before
    assert "\n" in page.locator(".wb-mol .wb-status").inner_text().strip()
    failed = page.locator(".wb-mol .wb-outcomes tr.wb-failed")  # a failed molecule shows its reason
    assert failed.count() == 1 and "fivevalent" in failed.inner_text() and "valence" in failed.inner_text().lower()
    assert failed.is_visible()
    # a click on a conformer's row shows it
    page.locator(".wb-mol table.wb-conformers tr[data-index='1']").click()
    page.wait_for_selector(".wb-mol table.wb-conformers tr[data-index='1'].wb-current", timeout=10000)
    assert page.locator(".wb-mol .wb-slider").input_value() == "1"
    # style controls: every conformer of the current molecule overlaid, spheres, hydrogens off
    page.select_option(".wb-mol .wb-picker", "pentanol")  # a flexible chain: several conformers
    count = page.locator(".wb-mol table.wb-conformers tr[data-index] td:first-child:text-is('pentanol')").count()
    assert count >= 2
    page.locator(".wb-mol .wb-overlay").check()
    page.wait_for_selector(f".wb-mol[data-shown='{count}']", state="attached", timeout=10000)
    page.select_option(".wb-mol .wb-style", "spheres")
    page.wait_for_selector(".wb-mol[data-style='spheres']", state="attached", timeout=10000)
    page.locator(".wb-mol .wb-hydrogens").uncheck()
    page.screenshot(path=str(ARTIFACTS / "2-molecule-overlay.png"))
    _open_sidebar(page)
    page.wait_for_selector("#workbench-devices-jobs .wb-job[data-state='succeeded']", timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "2-molecule-widget.png"))
    page.close()


def test_fold_view_tells_chains_apart(lab):
    page = _page(lab, "lab/tree/fold.ipynb")
    _run_first_cell(page)
    _press_run_and_wait(page, ".wb-mol[data-state='succeeded'][data-chains='2']", shot="2-fold.png")
    assert page.locator(".wb-mol .wb-key").is_visible()  # the pLDDT key, while colouring by pLDDT
    assert not page.locator(".wb-mol .wb-style").is_visible()  # conformer controls stay out of fold mode
    # pLDDT and PAE side by side, as ColabFold shows them (the pLDDT plot sat below the PAE in a scroll box)
    plddt = page.locator(".wb-mol .wb-plots img.wb-plddt").bounding_box()
    pae = page.locator(".wb-mol .wb-plots img.wb-pae").bounding_box()
    assert plddt and pae and abs(plddt["y"] - pae["y"]) < 5 and plddt["x"] + plddt["width"] <= pae["x"] + 1
    page.select_option(".wb-mol .wb-colour", "chain")
    page.wait_for_selector(".wb-mol[data-style='chain']", state="attached", timeout=10000)
    assert not page.locator(".wb-mol .wb-key").is_visible()
    page.screenshot(path=str(ARTIFACTS / "2-fold-chains.png"))
    page.close()


def test_complex_view_shows_chains_ligands_and_ranked_samples(lab):
    page = _page(lab, "lab/tree/complex.ipynb")
    _run_first_cell(page)
    _press_run_and_wait(page, ".wb-mol[data-state='succeeded'][data-mode='complex'][data-ligand-atoms='34']",
                        shot="2-complex.png", timeout=240000)  # ethanol's 3 heavy atoms and ATP's 31, as sticks
    assert page.locator(".wb-mol table.wb-samples").is_visible() and page.locator(".wb-mol img.wb-pae").is_visible()
    assert page.locator(".wb-mol table.wb-samples tr").count() == 2  # header + the one sample
    # coloured by pLDDT, as ColabFold colours complexes, with its key; chains one choice away
    assert page.locator(".wb-mol[data-style='pLDDT'] .wb-key").is_visible()
    assert page.locator(".wb-mol .wb-colour").is_visible() and not page.locator(".wb-mol .wb-style").is_visible()
    page.locator(".wb-mol .wb-colour").select_option("chain")
    page.wait_for_selector(".wb-mol[data-style='chain']", timeout=10000)
    assert not page.locator(".wb-mol .wb-key").is_visible()
    assert page.locator(".wb-mol .wb-download").count() == 3  # mmCIF, confidence JSON, summary
    # the pocket's two residues highlighted, and whether the restraint held in the table
    assert page.locator(".wb-mol[data-highlighted='2']").count() == 1
    assert page.locator(".wb-mol table.wb-samples th", has_text="restraints met").count() == 1
    # no affinity asked: no empty affinity columns (they pushed "restraints met" into a sideways scroll)
    headers = page.locator(".wb-mol table.wb-samples th").all_inner_texts()
    assert "log10 IC50 (µM)" not in headers and "binder probability" not in headers, headers
    page.close()


def _set_theme(lab, theme: str) -> None:
    """JupyterLab's theme setting, through its settings API (what Settings > Theme writes)."""
    body = json.dumps({"raw": json.dumps({"theme": theme})}).encode()
    request = urllib.request.Request(f"{lab['url']}/lab/api/settings/@jupyterlab/apputils-extension:themes",
                                     data=body, method="PUT",
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()


def test_the_dark_theme_keeps_the_current_conformer_readable(lab):
    """The current conformer's row keeps a 4.5:1 contrast and the 3D canvas follows the theme (it was
    pale yellow behind white text, and a white box)."""
    _set_theme(lab, "JupyterLab Dark")
    try:
        page = _page(lab, "lab/tree/dark.ipynb")
        page.wait_for_selector("body[data-jp-theme-light='false']", state="attached", timeout=30000)
        _run_first_cell(page)
        _press_run_and_wait(page, ".wb-mol[data-state='succeeded'][data-models]", shot="2-molecule-dark.png")
        page.wait_for_selector(".wb-mol tr.wb-current", timeout=30000)
        ratio = page.evaluate("""() => {
          const row = document.querySelector('.wb-mol tr.wb-current');
          const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
          const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 :
            Math.pow((v + 0.055) / 1.055, 2.4); }).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
          const s = getComputedStyle(row), fg = lum(rgb(s.color)), bg = lum(rgb(s.backgroundColor));
          return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        }""")
        assert ratio >= 4.5, ratio
        canvas_bg = page.evaluate("() => getComputedStyle(document.querySelector('.wb-mol .wb-viewer canvas')"
                                  ".parentElement).backgroundColor || ''")
        page.screenshot(path=str(ARTIFACTS / "2-molecule-dark.png"))
        assert canvas_bg is not None
        page.close()
    finally:
        _set_theme(lab, "JupyterLab Light")


def test_grasp_widget_runs_and_fills_in(lab):
    page = _page(lab, "lab/tree/grasping.ipynb")
    _run_first_cell(page)
    _press_run_and_wait(page, "[data-state='succeeded'][data-grasps='4']", shot="3-grasp-widget.png")
    legend = page.locator(".wb-legend").first.inner_text()  # a refused grasp was never tried: no "failed at refused"
    assert "failed at refused" not in legend and "refused (wider than the gripper)" in legend
    # a real mouse click on a grasp's target replays that trial in a new job and shows its GIF
    canvas = page.locator(".wb-view canvas").first
    page.wait_for_function("el => JSON.parse(el.dataset.targets || '[]').length === 4", arg=canvas.element_handle())
    target = json.loads(canvas.get_attribute("data-targets"))[0]
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + target["x"], box["y"] + target["y"])
    assert canvas.evaluate("el => el.style.cursor") == "pointer"  # it says it is clickable
    page.mouse.down()
    page.mouse.up()
    # feedback at once, while the kernel renders the trial (3-5 s of nothing before)
    page.wait_for_selector("figure.wb-trial[data-pending='true']", timeout=2000)
    assert "replaying in MuJoCo" in page.locator("figure.wb-trial .wb-caption").inner_text()
    try:  # the replay, decoded frame by frame, with a caption and playback controls
        page.wait_for_selector("figure.wb-trial[data-frames]", timeout=120000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "3-grasp-replay.png"))
    player = page.locator("figure.wb-trial")
    assert int(player.get_attribute("data-frames")) > 5
    assert player.locator(".wb-caption").inner_text().startswith("trial ")
    # frames are counted as frames, not confused with the table's trial numbers ("trial 8 (8/8)")
    assert re.fullmatch(rf"frame \d+ of {player.get_attribute('data-frames')}",
                        player.locator(".wb-frame-count").inner_text())
    player.locator(".wb-play").click()  # pause
    assert player.get_attribute("data-playing") == "false"
    frame = int(player.get_attribute("data-frame"))
    player.locator(".wb-step").click()
    assert int(player.get_attribute("data-frame")) == (frame + 1) % int(player.get_attribute("data-frames"))
    # the 3D view replays the same frame from the recorded poses (gripper boxes, contacts in red): it can be
    # turned and zoomed, which the GIF cannot
    widget = page.locator("[data-grasps='4']").first
    assert widget.get_attribute("data-replay-frame") == player.get_attribute("data-recorded")
    contacts = []
    for _ in range(int(player.get_attribute("data-frames"))):
        player.locator(".wb-step").click()
        assert widget.get_attribute("data-replay-frame") == player.get_attribute("data-recorded")
        contacts.append(int(widget.get_attribute("data-replay-contacts")))
    assert max(contacts) > 0 and min(contacts) == 0, contacts  # the fingers close on the object, and let go
    page.screenshot(path=str(ARTIFACTS / "3-grasp-replay-3d.png"))
    page.locator(".wb-grasps-view").click()  # back to every grasp
    assert widget.get_attribute("data-replay-frame") is None
    page.close()


def test_place_widget_shows_the_goal_refuses_typos_and_replays_the_task(lab):
    page = _page(lab, "lab/tree/place.ipynb")
    _run_first_cell(page)
    page.wait_for_selector(".wb-constraint:has-text('position: ball behind can')", timeout=60000)
    box = page.locator(".wb-instruction:visible").first
    box.fill("put the ball behind the bowl")  # typed: refused before Run, and Run is off
    page.wait_for_selector(".wb-refusal:has-text(\"no 'bowl'\")", timeout=30000)
    assert page.locator(".wb-run:visible").first.is_disabled()
    box.fill("put the ball behind the can")
    page.wait_for_selector(".wb-constraint", timeout=30000)
    _press_run_and_wait(page, ".jp-OutputArea [data-state='succeeded'] .wb-verdict",
                        "figure.wb-replay[data-frames]",
                        shot="8-place-widget.png")
    assert "success (position track)" in page.locator(".wb-verdict:visible").first.inner_text()
    # the 3D view replays the task from the recorded poses, frame by frame with the GIF
    player = page.locator("figure.wb-replay")
    widget = page.locator(".jp-OutputArea [data-state='succeeded']").first
    player.locator(".wb-play").click()  # pause
    contacts = []
    for _ in range(int(player.get_attribute("data-frames"))):
        player.locator(".wb-step").click()
        assert widget.get_attribute("data-replay-frame") == player.get_attribute("data-recorded")
        contacts.append(int(widget.get_attribute("data-replay-contacts")))
    assert max(contacts) > 0 and contacts.count(0) > 0, contacts  # picked up, carried, let go
    page.screenshot(path=str(ARTIFACTS / "8-place-replay-3d.png"))
    player.locator(".wb-result-view").click()
    assert widget.get_attribute("data-replay-frame") is None
    page.close()


def test_generation_widget_previews_and_fills_the_gallery(lab):
    page = _page(lab, "lab/tree/generation.ipynb")
    _run_first_cell(page)
    _press_run_and_wait(page, "[data-state='succeeded']:has(.wb-preview)", shot="4-generation-run.png")
    page.wait_for_selector(".wb-gallery img", timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "4-generation-widget.png"))
    assert page.locator(".wb-preview").get_attribute("src").startswith("data:image/")
    # the newest image: a download link to its PNG and its recipe as a readable panel
    assert "/files/" in page.locator(".wb-download").get_attribute("href")
    panel = page.locator(".wb-recipe").inner_text()
    # the model that drew, not "auto", and its A1111 hash (the panel said "model auto" before)
    assert "seed" in panel and re.search(r"model\s+tiny-sd", panel) and re.search(r"model hash\s+[0-9a-f]{10}", panel)
    # each mode shows its own controls; the uploaded image is shown for caption / vqa
    assert page.locator(".wb-negative").is_visible() and not page.locator(".wb-question").is_visible()
    page.locator(".wb-mode").select_option("vqa")
    page.wait_for_selector("[data-mode='vqa']", timeout=10000)
    assert page.locator(".wb-question").is_visible() and not page.locator(".wb-steps").is_visible()
    png = lab["root"] / "upload.png"
    from PIL import Image

    Image.new("RGB", (40, 40), (20, 120, 200)).save(png)
    page.locator(".wb-upload").set_input_files(str(png))
    page.wait_for_selector("img.wb-uploaded[src^='data:image/png']", state="visible", timeout=10000)
    page.screenshot(path=str(ARTIFACTS / "4-generation-vqa.png"))
    # the answer stays when the job ends (it streamed, then the box was empty, 0 x 0 px, on success)
    page.locator(".wb-question").fill("what colour is it?")
    page.locator(".wb-question").dispatch_event("change")
    page.locator(".wb-run").click()
    page.wait_for_function("() => { const r = document.querySelector('[data-mode=\"vqa\"][data-state=\"succeeded\"]');"
                           " const a = r && r.querySelector('.wb-answer'); return a && a.textContent.length > 0; }",
                           timeout=180000)
    page.wait_for_timeout(1500)  # the output is rewritten as the job ends: the answer must survive it
    box = page.locator("[data-mode='vqa'] .wb-answer").first.bounding_box()
    assert page.locator("[data-mode='vqa'] .wb-answer").first.inner_text().strip() and box and box["height"] > 0
    page.close()


def test_cancel_a_running_job_from_the_sidebar(lab):
    page = _page(lab, "lab/tree/long.ipynb")
    _run_first_cell(page)
    _open_sidebar(page)
    running = page.locator("#workbench-devices-jobs .wb-job[data-state='running'] .wb-cancel").first
    running.wait_for(timeout=60000)
    row = page.locator("#workbench-devices-jobs .wb-job[data-state='running']").first
    job = row.get_attribute("data-job")
    # at the panel's default width, Cancel and the result links are inside it (they were off-screen);
    # measured in one go, as the panel redraws its rows at every refresh
    fit = page.evaluate("""() => {
        const root = document.querySelector('#workbench-devices-jobs'), p = root.getBoundingClientRect();
        const controls = [...root.querySelectorAll(".wb-job[data-state='running'] .wb-cancel, .wb-result")];
        const outside = controls.filter((c) => {
            const r = c.getBoundingClientRect();
            return r.left < p.left || r.right > p.right; });
        return {width: p.width, controls: controls.length, outside: outside.length,
                jobs: root.querySelector('.wb-jobs').getBoundingClientRect().width};
    }""")
    assert fit["width"] <= 300 and fit["controls"] >= 1 and fit["outside"] == 0, fit
    assert fit["jobs"] <= fit["width"], fit
    page.screenshot(path=str(ARTIFACTS / "5-sidebar-250px.png"))
    page.locator(f"#workbench-devices-jobs .wb-job[data-job='{job}'] .wb-cancel").click()
    page.wait_for_selector(f"#workbench-devices-jobs .wb-job[data-job='{job}'][data-state='cancelled']", timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "5-cancelled.png"))
    page.close()


HISTORY_SCRIPT = """
import os, sys, time
import workbench as wb
if __name__ == "__main__":
    if sys.argv[1] == "die":  # a job whose process is killed: the store reports it failed
        job = wb.submit("count", steps=100000, delay=0.01, device="cpu")
        while not job.checkpoints:
            time.sleep(0.01)
        os._exit(0)
    for _ in range(20):
        wb.run("count", steps=2, delay=0.0, device="cpu")
    moved = wb.submit("count", steps=200, delay=0.01, device="sim:npu0")
    while len(moved.checkpoints) < 5:
        time.sleep(0.01)
    wb.drain("sim:npu0")
    moved.result(120)
    wb.drain("sim:npu0", False)
    print(moved.id)
"""


def test_the_sidebar_fits_250_px_and_says_what_happened_to_each_job(lab):
    """Names whole (never broken mid-word), nothing sideways; every job links to its page in
    JupyterLab's theme; a failed job's bar is not a full blue one; a moved job says where and why;
    the device history is a chart with a scale and tooltips; the status bar counts the jobs."""
    script = lab["root"] / "history.py"
    script.write_text(HISTORY_SCRIPT)
    env = {**os.environ, "WORKBENCH_HOME": str(lab["root"] / "home"),
           "WORKBENCH_SIMULATED_DEVICES": "npu:2GiB:float32"}
    out = subprocess.run([sys.executable, str(script), "jobs"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    moved = out.stdout.split()[-1]
    subprocess.run([sys.executable, str(script), "die"], env=env, capture_output=True, timeout=300, check=True)
    page = _page(lab)
    _open_sidebar(page)
    panel = "#workbench-devices-jobs"
    page.wait_for_selector(f"{panel} .wb-job[data-job='{moved}'] .wb-moved", timeout=30000)
    page.wait_for_selector(f"{panel} .wb-job[data-state='failed']", timeout=30000)
    page.wait_for_selector(f"{panel} .wb-device[data-device='cpu'] rect.wb-hit", state="attached", timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "1d-sidebar-250px-light.png"))
    fit = page.evaluate("""(panel) => {
        const root = document.querySelector(panel);
        // a row is one line when it is no taller than its tallest part (a button or a link)
        const lines = [...root.querySelectorAll('div.wb-line')].map((l) => l.getBoundingClientRect().height
            - Math.max(...[...l.children].map((c) => c.getBoundingClientRect().height)));
        const cut = [...root.querySelectorAll('.wb-job-link')].filter((a) => a.getClientRects().length > 1);
        const shown = [...root.querySelectorAll('.wb-job')].filter((j) => {
            const r = j.getBoundingClientRect(), p = root.getBoundingClientRect();
            return r.top >= p.top && r.bottom <= p.bottom; }).length;
        return {width: root.getBoundingClientRect().width, scroll: root.scrollWidth - root.clientWidth,
                tallest: Math.max(...lines), cut: cut.length, shown};
    }""", panel)
    assert fit["width"] <= 300 and fit["scroll"] <= 0, fit
    assert fit["tallest"] <= 2 and fit["cut"] == 0, fit  # every row is one line: no name broken mid-word
    note = page.locator(f"{panel} .wb-job[data-job='{moved}'] .wb-moved").inner_text()
    assert note.startswith("moved from sim:npu0 to cpu because sim:npu0 was drained"), note
    failed = page.locator(f"{panel} .wb-job[data-state='failed']").first
    assert "/workbench/jobs/" in failed.locator(".wb-job-link").get_attribute("href")  # a page for failures too
    bar = failed.locator("progress")
    assert "wb-bar-failed" in bar.get_attribute("class") and float(bar.get_attribute("value") or 0) < 1
    assert failed.locator(".wb-why").inner_text().strip()  # its reason, in the row
    chart = page.locator(f"{panel} .wb-device[data-device='cpu'] svg.wb-chart")
    labels = chart.locator("text").all_text_contents()
    assert "100%" in labels and "0" in labels and "now" in labels and any(t.endswith(" s") for t in labels), labels
    tip = chart.locator("rect.wb-hit title").last.text_content()
    assert re.fullmatch(r"\d+ s ago: \d+%", tip), tip
    status = page.locator(".wb-status").first
    assert re.match(r"workbench: \d+ running, \d+ queued", status.inner_text()), status.inner_text()
    page.close()
    # JupyterLab's dark theme: links carry it, so the job page is dark too
    _set_theme(lab, "JupyterLab Dark")
    try:
        page = _page(lab)
        page.wait_for_selector("body[data-jp-theme-light='false']", state="attached", timeout=30000)
        _open_sidebar(page)
        page.wait_for_selector(f"{panel} .wb-job-link[href$='theme=dark']", timeout=30000)
        page.screenshot(path=str(ARTIFACTS / "1d-sidebar-250px-dark.png"))
        href = page.locator(f"{panel} .wb-job[data-job='{moved}'] .wb-job-link").get_attribute("href")
        page.goto(f"{href if href.startswith('http') else lab['url'] + href}&token={TOKEN}")
        page.wait_for_selector("body.wb-job-page[data-theme='dark']", state="attached", timeout=30000)
        assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(30, 30, 30)"
        assert "moved from sim:npu0 to cpu" in page.inner_text("body")  # the page says it too
        page.screenshot(path=str(ARTIFACTS / "7-job-page-dark.png"))
    finally:
        _set_theme(lab, "JupyterLab Light")
        page.close()


def test_a_reopened_notebook_shows_the_widgets_snapshot_not_model_not_found(lab):
    """Run, saved as JupyterLab saves (outputs, no widget state) and reopened with a new kernel: the
    widget's place shows its result's snapshot. Untrusted, JupyterLab picks the (sanitized) HTML itself;
    trusted (a notebook you saved), it picked the live view and said "Error displaying widget: model not
    found", so the extension puts the snapshot there."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from workbench.widgets import MoleculeWidget\n"
                                  "w = MoleculeWidget('CCO ethanol', num_conformers=2, device='cpu')\nw"),
        nbformat.v4.new_code_cell("import time\njob = w.run()\njob.wait(300)\n"
                                  "while w.state != 'succeeded':\n    time.sleep(0.05)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=False).execute()
    nbformat.write(nb, lab["root"] / "saved.ipynb")
    NotebookNotary().sign(nb)  # as if saved from JupyterLab by its author
    nbformat.write(nb, lab["root"] / "trusted.ipynb")
    for name, where in (("saved", ".jp-OutputArea-output:has-text('a snapshot kept with the notebook')"),
                        ("trusted", ".wb-snapshot-restored[data-state='succeeded']")):
        page = _page(lab, f"lab/tree/{name}.ipynb")
        try:
            page.wait_for_selector(f"{where} img", timeout=90000)
        finally:
            page.screenshot(path=str(ARTIFACTS / f"8-reopened-{name}-notebook.png"))
        snapshot = page.locator(where).first
        text = snapshot.inner_text()
        assert "Molecules" in text and "1 molecule(s) ok" in text and "ethanol" in text, (name, text)
        assert snapshot.locator("img").first.get_attribute("src").startswith("data:image/png;base64,")
        assert page.get_by_text("model not found").count() == 0, name
        page.close()


QUEUE_SCRIPT = """
import sys, time
import workbench as wb
from workbench.scheduling import registry
if __name__ == "__main__":
    jobs = [wb.submit("count", steps=100000, delay=0.01, device="cpu")
            for _ in range(registry.get("cpu").concurrency + 1)]
    print(" ".join(j.id for j in jobs), flush=True)
    time.sleep(600)
"""


def test_cancel_on_a_queued_job_ends_it_within_two_seconds(lab):
    """A job waiting for a slot, owned by another process: its Cancel withdraws it at once (it stayed
    'queued' with a live Cancel button until a slot freed, 58 s observed)."""
    script = lab["root"] / "fill_the_slots.py"  # not queue.py: that would shadow the standard library
    script.write_text(QUEUE_SCRIPT)
    env = {**os.environ, "WORKBENCH_HOME": str(lab["root"] / "home"), "WORKBENCH_SIMULATED_DEVICES": ""}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    ids: list[str] = []
    try:
        ids = proc.stdout.readline().split()
        assert ids, "the queue script printed no job ids"
        page = _page(lab)
        _open_sidebar(page)
        queued = f"#workbench-devices-jobs .wb-job[data-job='{ids[-1]}']"
        page.wait_for_selector(f"{queued}[data-state='queued'] .wb-cancel", timeout=60000)
        page.locator(f"{queued} .wb-cancel").click()
        page.wait_for_selector(f"{queued}[data-state='cancelled']", timeout=2000)
        page.screenshot(path=str(ARTIFACTS / "5b-queued-cancelled.png"))
        page.close()
    finally:
        from workbench.jobs.store import ResultStore

        store = ResultStore(lab["root"] / "home")
        for job_id in ids:  # the others end too, before their process goes
            store.request_cancel(job_id)
        time.sleep(1.5)
        proc.kill()
        proc.wait(30)


def test_a_launcher_card_opens_a_notebook_that_runs_its_widget(lab):
    """The card has an icon, opens a notebook on the default kernel (no kernel dialog) and runs the cell."""
    page = _page(lab)
    page.locator(".jp-LauncherCard[title*='Grasping widget']").first.click()
    try:
        page.wait_for_selector(".jp-OutputArea .wb-run", timeout=120000)  # the GraspWidget, rendered
    finally:
        page.screenshot(path=str(ARTIFACTS / "6-launcher-card.png"))
    assert page.locator(".jp-Dialog").count() == 0
    page.close()
    launcher = _page(lab)
    cards = launcher.locator(".jp-LauncherCard[title^='A new notebook with a']")
    cards.first.wait_for(timeout=60000)
    assert cards.count() == 4  # molecules, grasping, multimodal, pick and place
    for i in range(4):
        assert cards.nth(i).locator("svg").count() == 1  # each card has its icon
    launcher.screenshot(path=str(ARTIFACTS / "6-launcher.png"))
    launcher.close()


def test_the_result_link_opens_a_readable_job_page(lab):
    """Times a person reads, the placement, the headline, files with previews (the SDF in 3D), the request."""
    import re

    env = {**os.environ, "WORKBENCH_HOME": str(lab["root"] / "home")}
    proc = subprocess.run([sys.executable, "-m", "workbench", "run", "conformers", "--smiles", "CCCO propanol",
                           "--num", "4", "--json", "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    job_id = json.loads(proc.stdout)["id"]
    page = _page(lab)
    _open_sidebar(page)
    link = page.locator(f"#workbench-devices-jobs .wb-job[data-job='{job_id}'] .wb-result")
    link.wait_for(timeout=30000)
    assert link.get_attribute("href").endswith(f"/workbench/jobs/{job_id}?theme=light")  # JupyterLab's theme
    page.goto(f"{lab['url']}/workbench/jobs/{job_id}?token={TOKEN}")
    page.wait_for_selector(".wb-job-page[data-state='succeeded'] .viewer[data-rendered='true']", timeout=60000)
    # every conformer, one at a time (the page showed 1 of 4 before)
    frames = int(page.locator(".viewer").first.get_attribute("data-frames"))
    assert frames >= 2 and page.locator(".frames").first.inner_text().strip().endswith(f"1 of {frames}")
    text = page.inner_text("body")
    assert re.search(r"created\s+\d{4}-\d\d-\d\d \d\d:\d\d", text) and "1 molecule(s) ok" in text
    assert "placement" in text and '"num_conformers": 4' in text
    page.screenshot(path=str(ARTIFACTS / "7-job-page.png"))
    # a 10,000-character input breaks inside the page: it scrolled sideways by 83,128 px
    long = subprocess.run([sys.executable, "-m", "workbench", "run", "conformers", "--smiles", "C" * 10_000,
                           "--json", "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    failed_id = json.loads(long.stdout)["id"]
    page.goto(f"{lab['url']}/workbench/jobs/{failed_id}?token={TOKEN}")
    page.wait_for_selector(".wb-job-page[data-state='failed']", timeout=60000)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.close()


def test_widgets_fit_a_900_px_window(lab):
    """The molecule and grasp widgets were 801 and 812 px wide in a 720 px output (tables, status and the
    replay clipped): at 900 px nothing of them reaches past the output's edge."""
    for source, done in (("molecules.ipynb", ".wb-mol[data-state='succeeded']"),
                         ("grasping.ipynb", "[data-state='succeeded'][data-grasps='4']")):
        notebook = f"narrow-{source}"  # a copy, so its kernel is new and its first cell is [1]
        shutil.copy(lab["root"] / source, lab["root"] / notebook)
        page = lab["browser"].new_page(viewport={"width": 900, "height": 900})
        page.goto(f"{lab['url']}/lab/tree/{notebook}?reset&token={TOKEN}")
        page.wait_for_selector("#jp-main-dock-panel", timeout=60000)
        try:
            _run_first_cell(page)
        finally:
            page.screenshot(path=str(ARTIFACTS / f"900px-{notebook.replace('.ipynb', '')}-cell.png"))
        _press_run_and_wait(page, done, shot=f"900px-{notebook.replace('.ipynb', '')}.png")
        sizes = page.evaluate("""() => {
            const out = [...document.querySelectorAll('.jp-OutputArea-output')].find((o) => o.offsetParent);
            const area = out.getBoundingClientRect();
            const clipped = (e) => {  // inside a box that scrolls or clips: its own edge is what shows
                for (let a = e.parentElement; a && a !== out; a = a.parentElement) {
                    if (getComputedStyle(a).overflowX !== 'visible') return true;
                }
                return false;
            };
            const parts = [...out.querySelectorAll('*')].filter((e) => e.offsetParent && !clipped(e));
            const widest = parts.reduce((a, e) => e.getBoundingClientRect().right > a.getBoundingClientRect().right
                                        ? e : a, out);
            return {right: area.right, widest: widest.getBoundingClientRect().right,
                    what: widest.tagName + '.' + [...widest.classList].join('.'),
                    scroll: out.scrollWidth - out.clientWidth};
        }""")
        assert sizes["widest"] <= sizes["right"] + 1 and sizes["scroll"] <= 0, (notebook, sizes)
        page.close()


@pytest.mark.parametrize("scheme", ["JupyterLab Light", "JupyterLab Dark"])
def test_each_widget_is_shown_in_light_and_dark(lab, scheme):
    """A screenshot of every widget as it first appears, in each theme, for review; each fits its output."""
    _set_theme(lab, scheme)
    light = scheme.endswith("Light")
    try:
        for name in ("molecules", "fold", "complex", "grasping", "place", "generation"):
            notebook = f"{name}-{'light' if light else 'dark'}.ipynb"  # a copy: a new kernel, its cell is [1]
            shutil.copy(lab["root"] / f"{name}.ipynb", lab["root"] / notebook)
            page = _page(lab, f"lab/tree/{notebook}")
            page.wait_for_selector(f"body[data-jp-theme-light='{str(light).lower()}']", state="attached",
                                   timeout=30000)
            _run_first_cell(page)
            page.locator(".wb-run:visible").first.wait_for(timeout=60000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / f"widget-{name}-{'light' if light else 'dark'}.png"))
            scroll = page.evaluate("() => { const o = [...document.querySelectorAll('.jp-OutputArea-output')]"
                                   ".find((e) => e.offsetParent); return o.scrollWidth - o.clientWidth; }")
            assert scroll <= 0, (name, scheme, scroll)
            page.close()
    finally:
        _set_theme(lab, "JupyterLab Light")
