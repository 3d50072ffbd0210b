"""A hostile participant against the newer surfaces, counted: the screen, the shared slot pool, quotas and
owners, settings and flags, plug-ins, A1111 read-back and a killed screen.

Each case is tried as a workshop participant or a careless user would, and its outcome is sorted:
- *unclean*: a traceback or a raw exception where a sentence belongs, or a quota that let more through;
- *hang*: a job still queued or running a minute after it should have ended, or a parse past its limit;
- *lost*: finished work gone (a killed screen's ligands after `jobs doctor`, a resumed screen that redid them);
- *outside write*: any file written or changed outside the job's folder by a name a user typed.

Prints one JSON line each: `hostile_surfaces_unclean`, `hostile_surfaces_hangs`, `hostile_surfaces_lost`,
`hostile_surfaces_outside_writes` (target 0 each). Needs the tiny Boltz-2 (no weights): about 3 minutes
on 2 cores.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

TARGET = "MKTAYIAKQRQISFVKSHFSRQ"
FAST = ["--tiny", "--recycling-steps", "0", "--sampling-steps", "3", "--quiet"]
COUNTS = {"cases": 0, "unclean": 0, "hangs": 0, "lost": 0, "outside_writes": 0}


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def _case(name: str, ok: bool, kind: str = "unclean") -> None:
    COUNTS["cases"] += 1
    if not ok:
        COUNTS[kind] += 1
        print(f"  {kind}: {name}", file=sys.stderr)


def _snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime) for p in folder.rglob("*") if p.is_file()}


def screens(root: Path) -> None:
    """Ligand names that try to leave the job, from the CLI, and a screen whose ligands fail one by one."""
    victim = root / "victim"
    victim.mkdir()
    (victim / "notes_line1.cif").write_text("my notes")
    before = _snapshot(root)
    names = [f"../../../../../../../..{victim}/notes", f"{victim}/notes", "..", ".", "a\x00b", "=cmd|' /C calc'!A0",
             "x" * 5000, "../" * 40, "~/.bashrc", "C:\\Windows\\x", "\u202e/etc"]
    library = root / "library.smi"
    library.write_text("".join(f"{'C' * (i % 4 + 2)}O {n}\n" for i, n in enumerate(names)))
    out = root / "out"
    ran = _cli("screen", "--target", TARGET, "--library", str(library), *FAST, "--out", str(out),
               "--contact", "A:3, B:C1")
    _case("screen with hostile ligand names", ran.returncode == 0 and "Traceback" not in ran.stderr)
    after = _snapshot(root)
    home = Path(os.environ["WORKBENCH_HOME"]).resolve()
    for path, stamp in after.items():
        inside = Path(path).resolve().is_relative_to(out.resolve()) or Path(path) == library
        if not inside and before.get(path) != stamp and not Path(path).resolve().is_relative_to(home):
            _case(f"a file outside the job: {path}", False, "outside_writes")
    _case("the victim file is untouched", (victim / "notes_line1.cif").read_text() == "my notes", "outside_writes")
    table = out / "screen.csv"
    rows = list(csv.DictReader(table.open(encoding="utf-8"))) if table.exists() else []
    _case("every hostile name is a row", len(rows) == len(names), "lost")
    _case("no cell starts like a formula", not any(r["name"][:1] in ("=", "+", "-", "@") for r in rows))

    for contact in ("A:3, B:ZZ", "A:3, B:2", "A:99, B:C1", "Q:1, B:C1"):
        refused = _cli("screen", "--target", TARGET, "--ligand", "CCO e", *FAST, "--contact", contact)
        _case(f"contact {contact!r} refused at submit", refused.returncode == 2 and "Traceback" not in refused.stderr)
    mixed = root / "mixed.smi"
    mixed.write_text("CCN amine\nCCO ethanol\n" + "C" * 1500 + " huge\nCCCN propylamine\n")
    ran = _cli("screen", "--target", TARGET, "--library", str(mixed), *FAST, "--contact", "A:3, B:N1", "--json")
    try:
        result = json.loads(ran.stdout)["result"]
        ok = len(result["rows"]) == 2 and {s["line"] for s in result["skipped"]} == {2, 3}
    except (ValueError, KeyError):
        ok = False
    _case("a screen goes on past ligands that fail", ok, "lost")


def killed_screen(root: Path) -> None:
    """kill -9 a screen after two ligands, doctor the store, resume: nothing finished is lost or redone."""
    home = Path(os.environ["WORKBENCH_HOME"])
    library = root / "killed.smi"
    library.write_text("".join(f"{'C' * (i + 2)}O alcohol{i}\n" for i in range(6)))
    child = subprocess.Popen([sys.executable, "-m", "workbench", "screen", "--target", TARGET, "--library",
                              str(library), *FAST], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline, kept = time.time() + 300, []
    while time.time() < deadline:
        kept = [p for p in home.glob("jobs/*/checkpoints.jsonl") if len(p.read_text().splitlines()) >= 2]
        if kept:
            break
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    if not kept:
        _case("the killed screen kept its ligands", False, "lost")
        return
    job_id, done = kept[0].parent.name, len(kept[0].read_text().splitlines())
    doctor = _cli("jobs", "doctor")
    _case("doctor keeps the killed screen's ligands", f"its {done} finished item(s) are kept" in doctor.stdout
          and kept[0].exists(), "lost")
    resumed = _cli("jobs", "resume", job_id, "--quiet", "--json")
    try:
        rows = json.loads(resumed.stdout)["result"]["rows"]
    except (ValueError, KeyError):
        rows = []
    _case("the resumed screen has every ligand", len(rows) == 6, "lost")


def pools(root: Path) -> None:
    """Pools that cannot be used, and settings that cannot be read: every job ends, with a sentence."""
    import workbench as wb

    (root / "plain").write_text("x")
    corrupt = root / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + os.urandom(8000))
    half = root / "half.sqlite"
    half.write_bytes(b"SQLite format 3\x00")
    cases = {"corrupt": {"WORKBENCH_SLOT_POOL": str(corrupt)}, "half-written": {"WORKBENCH_SLOT_POOL": str(half)},
             "under a file": {"WORKBENCH_SLOT_POOL": str(root / "plain" / "slots.sqlite")},
             "/dev/null": {"WORKBENCH_SLOT_POOL": "/dev/null"},
             "huge max running": {"WORKBENCH_MAX_RUNNING": "99999999999999999999"},
             "nan compute": {"WORKBENCH_MAX_COMPUTE_S": "nan"}, "owner bytes": {"WORKBENCH_OWNER": "ann\udcff"}}
    for name, env in cases.items():
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            job = wb.submit("count", steps=2, delay=0.0, device="cpu")
            if not job.wait(60):
                _case(f"pool {name}: the job ended", False, "hangs")
                job.cancel()
                continue
            _case(f"pool {name}: a sentence", job.state.value in ("succeeded", "failed")
                  and "Traceback" not in job.reason and "\n" not in job.reason)
        except Exception as exc:  # noqa: BLE001 - a raw exception where a sentence belongs
            _case(f"pool {name}: {type(exc).__name__}: {exc}", False)
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        listed = _cli("jobs", "list", "--all-users", env=env, timeout=60)
        _case(f"pool {name}: jobs list --all-users", "Traceback" not in listed.stderr)


def quotas(root: Path) -> None:
    """15 simultaneous submits against a quota of 3, three times, and owners with long or odd names (`root`
    unused: every step gets a folder)."""
    import workbench as wb
    from workbench.jobs import owners
    from workbench.jobs.owners import Quota, QuotaExceeded
    from workbench.jobs.store import default_store

    for round_, owner in enumerate(("gradio:racer", "gradio:" + "s" * 100, "gradio:a\x00b\udcff")):
        accepted: list = []
        go = threading.Event()

        def submit(who: str = owner, accepted: list = accepted, go: threading.Event = go, n: int = round_) -> None:
            go.wait()
            try:
                with owners.acting_as(who, Quota(max_queued=3)):
                    accepted.append(wb.submit("count", steps=300, delay=0.01, device="cpu"))
            except QuotaExceeded:
                pass
            except Exception as exc:  # noqa: BLE001 - a raw exception where a sentence belongs
                _case(f"quota round {n}: {type(exc).__name__}: {str(exc)[:80]}", False)

        threads = [threading.Thread(target=submit) for _ in range(15)]
        for t in threads:
            t.start()
        go.set()
        for t in threads:
            t.join(120)
        seen = len(default_store().list(owner=owner))
        _case(f"quota round {round_}: {len(accepted)} accepted, {seen} seen", len(accepted) == 3 and seen == 3)
        for job in accepted:
            job.cancel()
            job.wait(60)


def reading(root: Path) -> None:
    """A1111 parameters up to 4 MB, flags and plug-ins."""
    code = textwrap.dedent("""
        from workbench.tasks.multimodal.recipe import parse_parameters
        for n in (2_000, 32_000, 1_000_000, 4_000_000):
            for tail in ("x" * n, "a: " + "b" * n, 'a: "' + "b" * n, "a: 1, " * (n // 6)):
                parse_parameters("a prompt\\nSteps: 4, " + tail)
    """)
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        _case("A1111 read-back of 4 MB lines", done.returncode == 0)
    except subprocess.TimeoutExpired:
        _case("A1111 read-back of 4 MB lines", False, "hangs")
    for flag, value in (("--max-queued", "0"), ("--max-running", "-1"), ("--max-compute-s", "nan"),
                        ("--max-compute-s", "inf"), ("--max-running", "99999999999999999999")):
        out = _cli("gradio", f"{flag}={value}", timeout=60)
        _case(f"gradio {flag}={value} refused", out.returncode == 2 and "Traceback" not in out.stderr)
    for within in ("", "nan", "0", "-1"):
        out = _cli("devices", "drain", "cpu", f"--within={within}", timeout=60)
        _case(f"drain --within {within!r} refused", out.returncode == 2)
    site = root / "site"
    site.mkdir()
    info = site / "wbhostile-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wbhostile\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[workbench.tasks]\nhostile = wbhostile:SPEC\n")
    for body in ("import sys\nsys.exit(3)\n", "raise RuntimeError('x')\n",
                 "from workbench.tasks.registry import TASKS, register\nfrom dataclasses import replace\n"
                 "SPEC = register(replace(TASKS['count'], summary='hijacked'))\n"):
        (site / "wbhostile.py").write_text(body)
        out = _cli("run", "count", "--steps", "1", "--delay", "0", env={"PYTHONPATH": str(site)}, timeout=120)
        _case(f"plug-in {body.splitlines()[-1][:30]!r}", out.returncode == 0 and "Traceback" not in out.stderr)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="wb-hostile-"))
    os.environ["WORKBENCH_HOME"] = str(root / "home")
    os.environ.pop("WORKBENCH_SLOT_POOL", None)
    t0 = time.perf_counter()
    for step in (screens, killed_screen, pools, quotas, reading):
        folder = root / step.__name__
        folder.mkdir()
        try:
            step(folder)
        except Exception as exc:  # noqa: BLE001 - a surface that breaks the run is unclean, and the rest still run
            _case(f"{step.__name__} stopped: {type(exc).__name__}: {str(exc)[:120]}", False)
    print(f"hostile surfaces: {COUNTS['cases']} cases, {COUNTS['unclean']} unclean, {COUNTS['hangs']} hangs, "
          f"{COUNTS['lost']} lost, {COUNTS['outside_writes']} outside writes ({time.perf_counter() - t0:.0f} s)",
          file=sys.stderr)
    for key in ("unclean", "hangs", "lost", "outside_writes"):
        print(json.dumps({"name": f"hostile_surfaces_{key}", "value": COUNTS[key], "target": 0, "better": "lower"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
