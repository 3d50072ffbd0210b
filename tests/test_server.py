"""The Jupyter server extension against a real `jupyter server` on loopback, with a token."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import free_port, wait_for_http

pytest.importorskip("jupyter_server")

import workbench as wb  # noqa: E402

TOKEN = "workbench-test-token"
OPENAPI = json.loads((Path(wb.__file__).parent / "server" / "openapi.json").read_text())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("server-home")
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={home}",
         '--ServerApp.jpserver_extensions={"workbench.server": True}'],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/workbench/api"
    wait_for_http(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", 60, proc)
    yield {"base": base, "home": home, "pid": proc.pid}
    proc.terminate()
    proc.wait(20)


def call(server, path, method="GET", token=TOKEN):
    req = urllib.request.Request(server["base"] + path, method=method, data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


@pytest.fixture
def jobs_in_store(server, monkeypatch):
    """Jobs run by this process (as a kernel would) in the server's store."""
    monkeypatch.setenv("WORKBENCH_HOME", str(server["home"]))
    done = wb.submit("selftest", dtypes=("float32",), device="cpu")
    done.result(60)
    return {"done": done}


def test_every_route_needs_the_token(server):
    for path in ("/devices", "/jobs", "/jobs/x", "/jobs/x/events", "/openapi.json"):
        status, _, _ = call(server, path, token=None)
        assert status == 403, path
    status, _, _ = call(server, "/jobs/x/cancel", method="POST", token=None)
    assert status == 403


def test_devices_and_jobs_from_another_process(server, jobs_in_store):
    status, _, body = call(server, "/devices")
    assert status == 200
    maps = Path(f"/proc/{server['pid']}/maps")
    if maps.exists():  # the server read devices that kernels published; it never loaded torch itself
        assert "libtorch" not in maps.read_text()
    devices = {d["id"]: d for d in json.loads(body)["devices"]}
    assert "cpu" in devices
    import psutil

    use = devices["cpu"]["usage"]  # memory in use now, measured by the server with psutil (no torch)
    assert use["source"] == "psutil" and use["memory_total"] == psutil.virtual_memory().total
    assert 0 < use["memory_used"] < use["memory_total"] and 0 <= use["utilisation"] <= 100
    status, _, body = call(server, "/jobs")
    rows = json.loads(body)["jobs"]
    assert jobs_in_store["done"].id in {r["id"] for r in rows}
    status, _, body = call(server, f"/jobs/{jobs_in_store['done'].id}")
    job = json.loads(body)
    assert status == 200 and job["state"] == "succeeded" and job["files"] == {"report": "files/selftest.json"}
    status, ctype, body = call(server, f"/jobs/{jobs_in_store['done'].id}/files/files/selftest.json")
    assert status == 200 and ctype.startswith("application/json") and json.loads(body)["checks"]
    status, _, body = call(server, f"/jobs/{jobs_in_store['done'].id}/events")
    assert [e["state"] for e in json.loads(body)["events"] if e["kind"] == "state"][-1] == "succeeded"


def test_bad_ids_and_path_traversal_give_404_with_a_reason(server, jobs_in_store):
    job_id = jobs_in_store["done"].id
    for path in ("/jobs/no-such-job", "/jobs/no-such-job/events", f"/jobs/{job_id}/files/../../index.sqlite",
                 f"/jobs/{job_id}/files/%2e%2e/%2e%2e/index.sqlite", "/jobs/..%2F..%2Fetc/files/passwd"):
        status, ctype, body = call(server, path)
        assert status == 404, path
        assert "json" in ctype and json.loads(body)["reason"], path
    status, _, body = call(server, "/jobs/no-such-job/cancel", method="POST")
    assert status == 404 and "No job with id" in json.loads(body)["reason"]


def test_cancel_a_running_job_of_another_process(server, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(server["home"]))
    job = wb.submit("count", steps=100000, delay=0.01, device="cpu")
    while job.state.value != "running":
        time.sleep(0.02)
    status, _, body = call(server, f"/jobs/{job.id}/cancel", method="POST")
    assert status == 202 and json.loads(body)["cancel_requested"] is True
    job.wait(10)
    assert job.state.value == "cancelled" and "another process" in job.reason
    status, _, _ = call(server, f"/jobs/{job.id}/cancel", method="POST")
    assert status == 409


def test_live_progress_of_a_running_job_is_visible(server, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(server["home"]))
    job = wb.submit("count", steps=400, delay=0.01, device="cpu")
    deadline = time.time() + 30
    seen = 0.0
    while time.time() < deadline and seen == 0.0:
        time.sleep(0.3)
        rows = json.loads(call(server, "/jobs")[2])["jobs"]
        row = next(r for r in rows if r["id"] == job.id)
        seen = row["progress"] or 0.0
    job.cancel()
    assert 0 < seen < 1 and row["state"] == "running"


def test_routes_match_the_openapi_description(server, jobs_in_store):
    job_id = jobs_in_store["done"].id
    documented = set(OPENAPI["paths"])
    from workbench.server.handlers import ROUTES

    served = {re.sub(r"\(\[\^/\]\+\)", "{id}", p).replace("(.+)", "{path}") for p, _ in ROUTES}
    assert served == documented
    for path, ops in OPENAPI["paths"].items():
        concrete = path.replace("{id}", job_id).replace("{path}", "files/selftest.json")
        for method, spec in ops.items():
            status, _, _ = call(server, concrete, method=method.upper())
            assert str(status) in spec["responses"], (method, path, status)


def test_request_schemas_in_the_openapi_file_are_the_request_types():
    """Requests are declared once: the OpenAPI file's schemas are generated from the request types
    (regenerate with `python -m workbench.tasks.requests` after changing a request)."""
    from workbench.tasks.registry import TASKS
    from workbench.tasks.requests import openapi_components

    assert {k: v for k, v in OPENAPI["components"]["schemas"].items() if k.endswith("-request")} == \
        openapi_components()
    assert set(openapi_components()) == {f"{name}-request" for name in TASKS}


def test_drain_and_undrain_a_device_over_rest(server, jobs_in_store):
    from workbench.jobs.store import ResultStore

    assert call(server, "/devices")[0] == 200  # devices are published
    status, _, body = call(server, "/devices/cpu/drain", method="POST")
    assert status == 200 and json.loads(body) == {"id": "cpu", "drained": True}
    assert "cpu" in ResultStore(server["home"]).drained()
    status, _, body = call(server, "/devices/cpu/undrain", method="POST")
    assert status == 200 and "cpu" not in ResultStore(server["home"]).drained()
    status, _, body = call(server, "/devices/tpu:9/drain", method="POST")
    assert status == 404 and "No device 'tpu:9'" in json.loads(body)["reason"]


@pytest.mark.slow
def test_the_rest_api_fuzzed_never_answers_5xx(server, jobs_in_store):
    """Schemathesis generates valid and invalid requests for every documented operation (bounded,
    loopback only); every answer is documented-ish and none is a server error."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_dict(OPENAPI)
    base = server["base"]
    seen: list[int] = []
    def check(case):
        case.headers = {**(case.headers or {}), "Authorization": f"token {TOKEN}"}
        response = case.call(base_url=base, timeout=60)
        seen.append(response.status_code)
        assert response.status_code < 500, (case.method, case.path, case.path_parameters, case.query,
                                            response.status_code, response.text[:300])

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            settings(max_examples=8, deadline=None, database=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))(given(case=strategy)(check))()
    assert len(seen) > 80 and {200, 404} <= set(seen)


@dataclasses.dataclass
class OddResult:
    files: dict[str, Path]


def odd_file_task(request: dict, ctx) -> OddResult:
    path = ctx.workdir / "a\nb \"c\".txt"
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    path.write_text("odd")
    return OddResult({"odd": path})


def test_a_result_file_whose_name_holds_a_newline_downloads(server, monkeypatch):
    """Its Content-Disposition header held the newline and the download answered 500."""
    from urllib.parse import quote

    from workbench.scheduling import registry

    monkeypatch.setenv("WORKBENCH_HOME", str(server["home"]))
    job = registry.get("cpu").submit(odd_file_task, {})
    job.result(30)
    relative = wb.job(job.id).files["odd"].relative_to(server["home"] / "jobs" / job.id)
    req = urllib.request.Request(server["base"] + f"/jobs/{job.id}/files/{quote(str(relative))}")
    req.add_header("Authorization", f"token {TOKEN}")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200 and r.read() == b"odd"
        assert "filename*=UTF-8''a%0Ab%20%22c%22.txt" in r.headers["Content-Disposition"]


def _record_naming(store, task: str, result_type: str) -> str:
    """A finished job of `task` whose record names `result_type` for its result (as a kernel wrote it, or
    as anyone who can write to the store could)."""
    from workbench.jobs.job import Job

    job = Job(task, {}, "cpu", store=store)
    store.register(job)
    job.start()
    store.save(job, state="succeeded", reason="", result={"passed": True, "checks": []})
    path = store.jobs_dir / job.id / "record.json"
    record = json.loads(path.read_text())
    record["result_type"] = result_type
    path.write_text(json.dumps(record))
    return job.id


def test_the_server_reads_every_tasks_record_without_importing_what_it_names(server, jobs_in_store):
    """GET /jobs/<selftest job> took the server from 94 to 289 MB and mapped libtorch: rebuilding the result
    imported the module the record named. The server now reads records as JSON, for every task and for a
    record naming any module at all."""
    from workbench.jobs.store import ResultStore
    from workbench.tasks.registry import TASKS

    store = ResultStore(server["home"])
    ids = [jobs_in_store["done"].id]
    for name, spec in TASKS.items():
        declared = spec.result_type()
        ids.append(_record_naming(store, name, f"{declared.__module__}:{declared.__qualname__}"))
    ids.append(_record_naming(store, "selftest", "torch.nn:Linear"))  # not what selftest declares
    for job_id in ids:
        status, _, body = call(server, f"/jobs/{job_id}")
        assert status == 200, body
        assert isinstance(json.loads(body)["result"], dict)
        page = urllib.request.Request(server["base"].replace("/workbench/api", f"/workbench/jobs/{job_id}"),
                                      headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(page, timeout=30) as r:
            assert r.status == 200
    maps = Path(f"/proc/{server['pid']}/maps")
    if maps.exists():
        assert "libtorch" not in maps.read_text()


def test_a_kernel_rebuilds_only_the_type_a_task_declares(jobs_in_store, server):
    from workbench.jobs.store import ResultStore
    from workbench.tasks.selftest import SelftestResult

    store = ResultStore(server["home"])
    assert isinstance(store.get(jobs_in_store["done"].id).result, SelftestResult)  # its declared type
    odd = _record_naming(store, "selftest", "subprocess:Popen")
    job = store.get(odd)
    assert job.result == {"passed": True, "checks": []} and job.result_type == "subprocess:Popen"
    assert any("names the type 'subprocess:Popen', which its task 'selftest' does not declare" in p
               for p in store.problems)


def test_the_job_page_draws_each_structure_once_coloured_by_plddt_with_its_key(tmp_path):
    """The fold job page drew the protein twice (PDB and mmCIF) as a rainbow without a key, and showed one
    conformer of an SDF."""
    from types import SimpleNamespace

    from workbench.server.job_page import render

    files = {}
    for key, name in (("pdb", "protein.pdb"), ("cif", "protein.cif"), ("sdf", "conformers.sdf")):
        files[key] = tmp_path / name
        files[key].write_text("x")
    job = SimpleNamespace(id="20260101-000000-000000", task="fold", device="cpu", state="succeeded", reason="",
                          created=0.0, started=1.0, finished=2.0, placement="", result=None, result_type=None,
                          request={}, files=files, folder=tmp_path)
    page = render(job, lambda rel: f"/files/{rel}", "/static/")
    assert page.count("class='viewer'") == 2  # the protein once (its mmCIF), the conformers once
    assert "show(\"viewer0\", \"/files/protein.cif\", \"cif\")" in page
    assert "pLDDT: " in page and "very high (&ge; 90)" in page and "colorfunc" in page and "spectrum" not in page
    assert "addModelsAsFrames" in page and "conformer <input type='range'" in page


def test_a_job_page_follows_jupyterlabs_theme_when_the_link_names_it(tmp_path):
    """Opened from the sidebar, the page takes JupyterLab's theme, not the OS's; anything else is ignored."""
    from types import SimpleNamespace

    from workbench.server.job_page import render

    job = SimpleNamespace(id="20260101-000000-000000", task="count", device="cpu", state="succeeded", reason="",
                          created=0.0, started=1.0, finished=2.0, placement="moved from a to b because a was drained",
                          result=None, result_type=None, request={}, files={}, folder=tmp_path)
    assert 'data-theme="dark"' in render(job, lambda rel: "", "/static/", "dark")
    assert "data-theme" not in render(job, lambda rel: "", "/static/", "<script>").split("<body")[1].split(">")[0]
    assert "moved from a to b because a was drained" in render(job, lambda rel: "", "/static/")


def test_the_extensions_settings_are_jupyter_configuration(tmp_path):
    """`--WorkbenchServer.max_jobs_listed=5` (or `c.WorkbenchServer...` in a config file) reaches the handlers."""
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp_path}",
         '--ServerApp.jpserver_extensions={"workbench.server": True}', "--WorkbenchServer.max_jobs_listed=5"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", 60, proc)
        config = {"base": f"http://127.0.0.1:{port}/workbench/api"}
        status, _, body = call(config, "/jobs?limit=5")
        assert status == 200
        status, _, body = call(config, "/jobs?limit=6")
        assert status == 400 and json.loads(body)["reason"] == "limit must be a whole number from 1 to 5, not '6'."
    finally:
        proc.terminate()
        proc.wait(20)
    from workbench.server.config import WorkbenchServer

    assert WorkbenchServer().max_jobs_listed == 1000 and "max_jobs_listed" in WorkbenchServer.class_trait_names(
        config=True)


def test_the_job_page_template_escapes_whatever_a_record_holds(tmp_path):
    """The page is a Jinja2 template with autoescape: a reason, request or file name with markup stays text."""
    from types import SimpleNamespace

    from workbench.server.job_page import render

    evil = "<script>alert(1)</script>"
    (tmp_path / "a'b.png").write_bytes(b"x")
    job = SimpleNamespace(id="20260101-000000-000000", task="count", device="cpu", state="failed", reason=evil,
                          created=0.0, started=1.0, finished=2.0, placement=evil, result=None, result_type=None,
                          request={"text": evil}, files={"pic": tmp_path / "a'b.png"}, folder=tmp_path)
    page = render(job, lambda rel: f"/files/{rel}", "/static/")
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "src='/files/a&#39;b.png'" in page  # an attribute cannot be closed by a file name
    assert "<td class='failed'>failed: &lt;script&gt;" in page
