"""Long work always moves: every long task, at this machine's tiny settings, reports progress at least
every 2 s from start to end, its bar ends full, and most of what it reports is real progress (the
heartbeat only covers single long calls such as importing Boltz)."""

from __future__ import annotations

import pytest
from helpers import run_cli
from PIL import Image

import workbench as wb
from workbench.jobs.heartbeat import is_beat

MAX_GAP_S = 2.0
UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


def _image(folder) -> str:
    path = folder / "scene.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path)
    return str(path)


CASES = {
    "complex": lambda tmp: dict(proteins=(UBIQUITIN,), ligand_ccd=("ATP",), name="u", tiny=True,
                                recycling_steps=1, sampling_steps=20),
    "fold": lambda tmp: dict(sequences=(UBIQUITIN,), tiny=True),
    "place": lambda tmp: dict(instruction="put the mug upright to the left of the box"),
    "conformers": lambda tmp: dict(smiles=("CC(C)[C@H]1CC[C@@H](CC1)C(=O)N[C@H](Cc1ccccc1)C(=O)O nateglinide",),
                                   num_conformers=30),
    "grasp": lambda tmp: dict(object="box", num_grasps=10, seed=0),
    "text-to-image": lambda tmp: dict(prompt="a red cube", tiny=True),
    "caption": lambda tmp: dict(image=_image(tmp), tiny=True),
    "vqa": lambda tmp: dict(image=_image(tmp), question="what colour is it?", tiny=True),
}


def gaps(job) -> list[float]:
    times = [job.started, *(e.time for e in job.snapshot_events() if e.progress is not None), job.finished]
    return [b - a for a, b in zip(times, times[1:])]


@pytest.mark.parametrize("task", list(CASES))
def test_long_work_reports_at_least_every_two_seconds_and_ends_full(task, tmp_path):
    job = wb.submit(task, device="cpu", **CASES[task](tmp_path))
    job.result(600)
    progress = [e.progress for e in job.snapshot_events() if e.progress is not None]
    assert max(gaps(job)) <= MAX_GAP_S, [(round(g, 1), p.message) for g, p in zip(gaps(job), progress) if g > 1]
    real = [p for p in progress if not is_beat(p)]
    assert len(real) >= 0.8 * len(progress), [p.message for p in progress if is_beat(p)]
    fractions = [p.fraction for p in real if p.fraction is not None]
    assert fractions and fractions[-1] == 1.0


def test_a_long_single_call_shows_a_heartbeat_that_moves_nothing_forward():
    """A stage that cannot report (one native call) still shows the job alive and where it is."""
    job = wb.submit("count", steps=2, delay=3.2, device="cpu")
    job.result(60)
    beats = [e.progress for e in job.snapshot_events() if is_beat(e.progress)]
    assert len(beats) >= 4 and max(gaps(job)) <= MAX_GAP_S
    assert all(b.data == {"heartbeat": True} for b in beats)
    assert {b.message.rsplit(" · ", 1)[1] for b in beats} >= {"1 s", "2 s", "3 s"}
    real = [e.progress for e in job.snapshot_events() if e.progress is not None and not is_beat(e.progress)]
    assert all(b.done in {p.done for p in real} | {0} for b in beats)  # a beat repeats, never advances


def test_bench_shows_a_bar_for_every_run():
    proc = run_cli("bench", "--task", "count", "--device", "cpu", "--repeats", "2",
                   env={"WORKBENCH_PROGRESS": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for label in ("count on cpu, warm-up", "count on cpu, run 1/2", "count on cpu, run 2/2"):
        assert f"{label}: 100%" in proc.stderr, proc.stderr[-2000:]

