"""The `workbench` command in fresh processes: exit codes, --json, one-line errors, demo."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import SIM, run_cli


def _one_line_error(proc) -> str:
    err = proc.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_devices_json_lists_cpu_and_the_plugin_device():
    proc = run_cli("devices", "--json", env={"WORKBENCH_SIMULATED_DEVICES": SIM})
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert rows["cpu"]["kind"] == "cpu" and rows["sim:npu0"]["backend"] == "simulated"
    assert rows["cpu"]["profile"] is None


def test_devices_profile_caches_figures():
    proc = run_cli("devices", "--profile", "--seconds", "0.05", "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)[0]
    assert row["profile"]["matmul_tflops_fp32"] > 0
    again = json.loads(run_cli("devices", "--json").stdout)[0]
    assert again["profile"] == row["profile"]  # read back from the cache


def test_run_json_then_jobs_list_show(tmp_path):
    out = tmp_path / "report.json"
    proc = run_cli("run", "selftest", "--dtypes", "float32,bfloat16", "--device", "cpu",
                   "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["state"] == "succeeded" and data["result"]["passed"] is True
    assert json.loads(out.read_text())["checks"][1]["dtype"] == "bfloat16"
    listed = json.loads(run_cli("jobs", "list", "--json").stdout)
    assert listed[0]["id"] == data["id"] and listed[0]["state"] == "succeeded"
    shown = json.loads(run_cli("jobs", "show", data["id"], "--json").stdout)
    assert shown["request"]["dtypes"] == ["float32", "bfloat16"]
    assert Path(shown["files"]["report"]).exists()
    cancel = json.loads(run_cli("jobs", "cancel", data["id"], "--json").stdout)
    assert cancel == {"id": data["id"], "cancel_requested": False, "state": "succeeded"}


def test_run_plain_prints_the_result_path_then_the_headline():
    proc = run_cli("run", "selftest", "--quiet")
    assert proc.returncode == 0
    lines = proc.stdout.strip().splitlines()
    assert (Path(lines[0]) / "record.json").exists()  # where it is, then the headline last
    assert lines[-1].startswith("passed: float32 ok (rel. error")


def test_every_run_ends_with_its_headline_and_jobs_list_shows_it(tmp_path):
    runs = {
        ("run", "conformers", "--smiles", "CCO ethanol", "--smiles", "C1CC1C(=O)O acid", "--num", "5"):
            r"^  acid: \d+ conformers?\b",
        ("run", "fold", "--sequences", "MKTAYIAKQR:GSHMLE", "--tiny"):
            r"^seq1: mean pLDDT [\d.]+, pTM [\d.]+; pLDDT per chain A [\d.]+ \(10 res\), B [\d.]+ \(6 res\)",
        ("run", "grasp", "--object", "ball", "--num", "3", "--out", str(tmp_path / "g")):
            r"^success \d+% \(95% CI \d+%-\d+%\) over 3 grasps; failures by stage: ",
    }
    for args, headline in runs.items():
        proc = run_cli(*args, "--quiet")
        assert proc.returncode == 0, proc.stderr
        assert re.match(headline, proc.stdout.strip().splitlines()[-1]), proc.stdout
    assert (tmp_path / "g" / "meshes" / "ball.obj").exists()  # where grasps.h5's object/file points
    listed = run_cli("jobs", "list").stdout.splitlines()
    assert re.search(r"grasp .* succeeded .* success \d+% \(95% CI", listed[1]), listed
    assert "mean pLDDT" in listed[2] and "2 molecule(s) ok, 0 failed" in listed[3]
    shown = run_cli("jobs", "show", listed[1].split()[0]).stdout
    assert re.search(r"^result   success \d+%", shown, re.M)


def test_unknown_task_device_job_and_bad_input_exit_2_with_one_line():
    for args, pattern in [
        (("run", "teleport"), r"invalid choice: 'teleport'"),
        (("run", "selftest", "--device", "tpu:9"), r"Unknown device 'tpu:9'"),
        (("jobs", "show", "no-such-job"), r"No job with id 'no-such-job'"),
        (("jobs", "cancel", "no-such-job"), r"No job with id 'no-such-job'"),
        (("run", "selftest", "--dtypes", "float8"), r"Unknown dtype 'float8'"),
        (("models", "pull", "gpt-17"), r"Unknown model 'gpt-17'"),
        (("frobnicate",), r"invalid choice"),
    ]:
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert re.search(pattern, _one_line_error(proc)), proc.stderr


def test_device_that_cannot_run_the_task_exits_2():
    proc = run_cli("run", "selftest", "--dtypes", "float64", "--device", "sim:npu0",
                   env={"WORKBENCH_SIMULATED_DEVICES": SIM})
    assert proc.returncode == 2
    assert "does not compute in float64" in _one_line_error(proc)


def test_models_list_json(tmp_path):
    proc = run_cli("models", "list", "--json", env={"HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert rows["esmfold"]["cached"] is False and rows["tiny-transformer"]["cached"] is True
    pull = run_cli("models", "pull", "esmfold", env={"HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    assert pull.returncode == 2 and "Could not download 'esmfold'" in _one_line_error(pull)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def test_demo_writes_a_report_whose_links_exist(tmp_path):
    out = tmp_path / "demo"
    proc = run_cli("demo", "--out", str(out), "--quiet", env={"WORKBENCH_SIMULATED_DEVICES": SIM},
                   timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = out / "report.html"
    assert Path(proc.stdout.strip()) == report
    parser = _Links()
    parser.feed(report.read_text())
    assert parser.links, "the report links its files"
    for link in parser.links:
        assert (out / link).is_file(), link
    outcomes = json.loads((out / "outcomes.json").read_text())
    ran_on = {o["device"] for o in outcomes if o["state"] == "succeeded"}
    assert {"cpu", "sim:npu0"} <= ran_on
    assert all(o["state"] == "succeeded" for o in outcomes), outcomes


def test_ci_runs_the_readme_test_command():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    block = readme.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2, "the Quickstart has exactly two set-up commands"
    assert commands[0].endswith("workbench demo")
    assert commands[1] in (root / ".ci" / "run").read_text()


@pytest.mark.ray
@pytest.mark.slow
def test_demo_cluster_step_places_by_figures_and_resumes_a_drained_batch(tmp_path):
    out = tmp_path / "demo"
    code = ("import sys; from pathlib import Path; from workbench.demo import run_demo; "
            f"print(run_demo(Path({str(out)!r}), steps=[], cluster=True, quiet=True))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes = json.loads((out / "outcomes.json").read_text())
    assert [o["state"] for o in outcomes] == ["succeeded"] * 3, outcomes
    assert re.match(r"placed on ray:\w+/(cpu|npu:0) about", outcomes[1]["summary"]), outcomes[1]
    assert re.match(r"moved from ray:\w+/cpu to \S+ because ray:\w+/cpu was drained; resuming at item \d+ of 30",
                    outcomes[2]["summary"]), outcomes[2]
    assert "success" in outcomes[2]["summary"]


def test_an_unreachable_cluster_is_one_sentence_in_seconds():
    proc = run_cli("devices", "--cluster", "127.0.0.1:1", timeout=60)  # it used to retry for minutes
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("workbench: Cannot reach a Ray cluster at 127.0.0.1:1 (Connection refused); "
                                   "start one there with `ray start --head`, or check the address.")


def test_jobs_list_says_when_it_shows_only_the_newest_and_survives_a_closed_pipe():
    for _ in range(3):
        assert run_cli("run", "count", "--steps", "1", "--quiet").returncode == 0
    listed = run_cli("jobs", "list", "--limit", "2").stdout.splitlines()
    assert len(listed) == 4 and listed[-1] == "2 of 3 shown; --all for all"
    assert len(run_cli("jobs", "list", "--limit", "0").stdout.splitlines()) == 4  # header + all three
    assert len(run_cli("jobs", "list", "--all").stdout.splitlines()) == 4
    # `workbench jobs list | head -1`: the reader has left before the list is written; no BrokenPipeError
    # traceback, exit 0 (a pipe whose read end is closed, so the first write fails as it did under head)
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run([sys.executable, "-m", "workbench", "jobs", "list"], stdout=write, stderr=subprocess.PIPE,
                          text=True, timeout=120)
    os.close(write)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["jobs", "list"], ["devices"], ["models", "list"]])
def test_the_everyday_commands_import_no_heavy_library(argv):
    """They took 3.5-6.5 s when every command imported torch, trimesh and RDKit (benchmarks/cli_startup.py
    measures the time; this keeps the cause away)."""
    wb_run = run_cli("run", "count", "--steps", "1", "--quiet")  # a job to list, and a discovery published
    assert wb_run.returncode == 0, wb_run.stderr
    code = ("import sys\nfrom workbench.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted({'torch', 'rdkit', 'trimesh', 'mujoco', 'scipy'} & set(sys.modules))\n"
            "print('HEAVY', heavy, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in proc.stderr, proc.stderr[-2000:]


def test_devices_answer_from_the_last_discovery_only_while_the_set_up_is_the_same(monkeypatch):
    assert run_cli("devices", "--refresh").returncode == 0
    assert [r["id"] for r in json.loads(run_cli("devices", "--json").stdout)] == ["cpu"]
    monkeypatch.setenv("WORKBENCH_SIMULATED_DEVICES", "npu:2GiB")  # another set-up: discovered again
    assert [r["id"] for r in json.loads(run_cli("devices", "--json").stdout)] == ["cpu", "sim:npu0"]


def test_every_tasks_help_reads_as_sentences():
    """No "(default: None)", no "--no-seeds  no seeds": what an option does when left out, in words."""
    from workbench.tasks.registry import TASKS

    for name in TASKS:
        text = run_cli("run", name, "--help").stdout
        flat = " ".join(text.split())
        assert "default: None" not in flat and "(default: ())" not in flat and "(default: )" not in flat, (name, text)
        assert not re.search(r"--no-[\w-]+\s+no \w", text), (name, text)


def test_the_readme_examples_name_real_options_and_build_valid_requests(tmp_path, monkeypatch):
    """Each example in the README's "One example per capability" parses and makes a request that passes
    every check (the files they read are made by the examples before them; here, stand-ins)."""
    import shlex

    from PIL import Image

    from workbench.cli import build_parser
    from workbench.cli.task_options import fields_from_args
    from workbench.tasks.registry import get_task
    from workbench.tasks.requests import make_request

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("## One example per capability", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (64, 64), (200, 30, 30)).save("cube.png")
    commands = [shlex.split(line)[1:] for line in block.strip().splitlines()]
    assert len(commands) >= 8 and all(c for c in commands)
    for argv in commands:
        if argv[0] == "grasp-train":
            argv = ["run", "grasp-train", "--data", *argv[1:]]
        if argv[0] == "screen":  # an alias of `run screen`
            argv = ["run", "screen", *argv[1:]]
        args = build_parser(argv).parse_args(argv)
        if argv[0] == "run" and argv[1] != "grasp-train":  # its dataset is made by the line before
            make_request(get_task(argv[1]), **fields_from_args(get_task(argv[1]), args))
