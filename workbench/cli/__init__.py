"""`workbench`: devices, run, jobs, models, demo. A thin view over the job layer.

Every listing has `--json`. Unknown tasks, devices, job ids and bad input exit with
code 2 and one line on stderr; a job that fails or is cancelled exits with 1; nothing
prints a traceback unless `WORKBENCH_DEBUG=1`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from workbench import presenters
from workbench.contract.errors import Cancelled, JobFailed, WorkbenchError
from workbench.jobs.codec import to_jsonable
from workbench.paths import kept_layout
from workbench.settings import MAX_COUNT, MAX_SECONDS, bounded_number


class UsageError(Exception):
    """Bad command line: exit 2 with this message."""


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _print_json(obj: Any) -> None:
    print(json.dumps(to_jsonable(obj, strict=False), indent=1))


def _table(rows: list[list[str]], headers: list[str]) -> str:
    return presenters.text_table(headers, rows)


# ---- devices ----------------------------------------------------------------------------

def published_device_rows() -> list[dict[str, Any]] | None:
    """The devices the last discovery with this set-up published (no torch imported), the CPU's free
    memory read now; None when there is no such discovery."""
    from workbench.hardware.host import meminfo, setup_key
    from workbench.jobs.store import default_store

    published = default_store().published_devices(setup=setup_key())
    if not published:
        return None
    for p in published:
        if p["capabilities"].get("kind") == "cpu":
            p["capabilities"]["free_memory"] = meminfo()[1]
    return [presenters.device_row(p["id"], p["capabilities"], p["load"], p["profile"]) for p in published]


def device_rows(profile: bool, seconds: float, cluster: str | None = None,
                refresh: bool = True) -> list[dict[str, Any]]:
    if not (profile or cluster or refresh):
        rows = published_device_rows()
        if rows is not None:
            return rows
    from workbench.scheduling import registry
    from workbench.scheduling.profiles import cached_profiles, profile_device

    if cluster:
        from workbench.scheduling.cluster import connect

        connect(None if cluster == "local" else cluster)
    devs = registry.discover()
    profiles = cached_profiles(devs)
    if profile:
        for d in devs:
            print(f"profiling {d.id} ...", file=sys.stderr)
            profiles[d.id] = profile_device(d, seconds_per_figure=seconds)
        registry.publish(devs)
    return [presenters.device_row(d.id, d.capabilities, d.load(), profiles.get(d.id)) for d in devs]


def _seconds(text: str) -> float:
    """'30', '30s', '5m' or '1h' in seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    t = text.strip().lower()
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_SECONDS:  # NaN, inf, 0, negative and empty are all refused
        raise UsageError(f"--within {text[:40]!r}: give a time above 0 such as 30s, 5m or 1h")
    return value


def _limit(kind: type, high: float) -> Callable[[str], Any]:
    """An argparse type for a quota flag: a whole number (or a number of seconds) from 1 to `high`; 0, a
    negative number, NaN or infinity is refused in one line rather than read as "no limit"."""

    def parse(text: str) -> Any:
        value = bounded_number(text, kind, 1, high)
        if value is None:
            what = "a whole number" if kind is int else "a number of seconds"
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what} from 1 to {high:,.0f} (leave the flag out "
                                             "for no limit)")
        return value

    parse.__name__ = "limit"
    return parse


def cmd_devices(a: argparse.Namespace) -> int:
    if a.action in ("drain", "undrain"):
        from workbench.scheduling import registry

        if not a.target:
            raise UsageError(f"workbench devices {a.action}: name the device (see workbench devices --help)")
        within = _seconds(a.within) if a.within is not None else None
        registry.drain(a.target, a.action == "drain", within)
        if a.action == "undrain":
            print(f"{a.target}: takes work again")
        elif within is None:
            print(f"{a.target}: drained: its jobs move to other devices")
        else:
            print(f"{a.target}: drained: free within {within:g} s; running jobs that finish in time at their pace "
                  "stay, the others move at their next checkpoint")
        return 0
    rows = device_rows(a.profile, a.seconds, a.cluster, refresh=a.refresh)
    hosts = _device_hosts([row["id"] for row in rows])
    if a.json:
        _print_json([{**row, "host": hosts.get(row["id"])} for row in rows])
        return 0
    headers, body = presenters.device_table(rows)
    print(_table(body, headers))
    for device, found in hosts.items():  # one copy of each model for every process of this user
        print(f"{presenters.device_host_line(device, found)} (pid {found['pid']})")
    discovery = sys.modules.get("workbench.scheduling.registry")  # imported only when it discovered
    for problem in getattr(discovery, "problems", ()):
        print(f"note: {problem}", file=sys.stderr)
    return 0


def _device_hosts(devices: list[str]) -> dict[str, dict[str, Any]]:
    """What each device's host holds, for the devices that have one running (asked over its socket)."""
    from workbench.hardware import device_host

    out = {}
    for device in devices:
        try:
            found = device_host.status(device)
        except (OSError, EOFError, WorkbenchError):  # a host going away as it is asked: none to show
            found = None
        if found is not None:
            out[device] = found
    return out


def cmd_bench(a: argparse.Namespace) -> int:
    from workbench.scheduling.bench import bench

    rows = bench(a.task or None, a.device or None, repeats=a.repeats,
                 say=lambda line: print(line, file=sys.stderr),
                 watch=lambda job, label: presenters.follow(job, label, quiet=a.quiet))
    if a.json:
        _print_json(rows)
    return 0


def cmd_profiles(a: argparse.Namespace) -> int:
    from workbench.jobs import perf
    from workbench.jobs.store import default_store

    rows = perf.table(default_store(), a.task)
    if a.json:
        _print_json(rows)
    elif not rows:
        print("no per-task figures yet: run some jobs, or `workbench bench`")
    else:
        print(_table([[r["device"], r["task"], r["model"], r["dtype"], f"{presenters.sig2(r['rate'])} {r['unit']}/s",
                       str(r["samples"]), r["source"]] for r in rows],
                     ["DEVICE", "TASK", "MODEL", "DTYPE", "RATE", "SAMPLES", "SOURCE"]))
    return 0


# ---- run --------------------------------------------------------------------------------

def _copy_out(files: dict[str, Path], out: Path) -> list[Path]:
    if len(files) == 1 and out.suffix:
        out.parent.mkdir(parents=True, exist_ok=True)
        src = next(iter(files.values()))
        shutil.copy2(src, out)
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    layout = kept_layout(files.values())
    for src in files.values():
        dest = out / layout[src]
        dest.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree(src, dest, dirs_exist_ok=True) if src.is_dir() else shutil.copy2(src, dest))
        copied.append(dest)
    return copied


def _progress_bar(a: argparse.Namespace, **options: Any) -> Any:
    """A tqdm bar on stderr: off with --quiet, and off when stderr is no terminal unless
    WORKBENCH_PROGRESS=1."""
    from tqdm import tqdm

    return tqdm(file=sys.stderr, disable=not presenters.bar_shown(a.quiet, sys.stderr), **options)


def cmd_run(a: argparse.Namespace) -> int:
    from workbench import api
    from workbench.cli.task_options import fields_from_args
    from workbench.tasks.registry import get_task

    spec = get_task(a.task)
    job = api.submit(spec, device=a.device, **fields_from_args(spec, a))  # checked once, there
    return _follow_to_the_end(job, a)


def _follow_to_the_end(job: Any, a: argparse.Namespace) -> int:
    """Show a submitted job's progress, then its files (copied to `--out`) and headline; 1 when it failed."""
    from workbench.jobs.codec import result_files

    print(f"job {job.id}: {job.task_name} on {job.device}" + (f" ({job.placement})" if job.placement else ""),
          file=sys.stderr)
    presenters.follow(job, quiet=a.quiet)
    try:
        result = job.result()
    except (JobFailed, Cancelled) as exc:
        if a.json:
            _print_json({"id": job.id, "state": job.state.value, "reason": str(exc)})
        print(f"workbench: job {job.id} {job.state.value}: {exc}", file=sys.stderr)
        return 1
    for name, reason in (getattr(result, "errors", None) or {}).items():
        print(f"workbench: {name}: {reason}", file=sys.stderr)
    files = result_files(result)
    copied = _copy_out(files, Path(a.out)) if a.out and files else []
    if a.json:
        _print_json({"id": job.id, "state": job.state.value, "device": job.device,
                     "result": result, "files": {k: str(v) for k, v in files.items()},
                     "copied": [str(p) for p in copied],
                     "folder": str(job.store.jobs_dir / job.id)})
    else:
        for p in copied or [job.store.jobs_dir / job.id]:
            print(p)
        text = presenters.summary(result)
        if text:  # the headline ends the output
            print(text)
    return 0


# ---- grasp datasets -----------------------------------------------------------------------

def cmd_grasp_dataset(a: argparse.Namespace) -> int:
    from workbench.datasets import make_grasp_dataset

    bar = _progress_bar(a, total=0, unit="grasp")

    def progress(done: int, total: int, message: str) -> None:
        bar.total, bar.n = total, done
        bar.set_postfix_str(message[:60], refresh=True)

    try:
        report = make_grasp_dataset(a.objects, a.out, grasps_per_object=a.grasps_per_object, devices=a.device,
                                    gripper=a.gripper, sampler=a.sampler, seed=a.seed, workers=a.workers,
                                    friction=a.friction, density=a.density, progress=progress)
    finally:
        bar.close()
    if a.json:
        _print_json(report)
        return 0
    print(report.folder / "manifest.json")
    rates = ", ".join(f"{d} {r:.2g} grasps/s" for d, r in report.grasps_per_second.items()) or "nothing new"
    print(f"{report.objects} objects ({report.made_now} made now), {report.grasps} grasps, "
          f"{report.success_rate:.0%} succeeded; {rates}")
    return 0


# ---- jobs -------------------------------------------------------------------------------

def _fmt_time(t: float | None) -> str:
    return presenters.when(t)


def _result_headlines(store: Any, rows: list[dict]) -> dict[str, str]:
    """The first line of each finished job's result summary, from its record's JSON (no task module is
    imported; a record that cannot be read keeps its last message)."""
    out = {}
    for row in rows:
        if row["state"] == "succeeded":
            text = store.stored_summary(row["id"])
            if text:
                out[row["id"]] = text.split("\n")[0]
    return out


def cmd_jobs(a: argparse.Namespace) -> int:
    from workbench.jobs.store import default_store

    store = default_store()
    for problem in store.problems:
        print(f"note: {problem}", file=sys.stderr)
    if a.jobs_cmd in (None, "list") and getattr(a, "all_users", False):
        return _all_users(store, getattr(a, "json", False))
    if a.jobs_cmd in (None, "list"):
        limit = None if getattr(a, "all", False) else getattr(a, "limit", 50)
        state, bench = getattr(a, "state", None), getattr(a, "bench", False)
        rows = store.list(limit=limit or None, state=state, tagged=bench, owner=getattr(a, "owner", None))
        if getattr(a, "json", False):
            _print_json(rows)
        elif not rows:
            print("no jobs yet")
        else:
            headers, body = presenters.job_table(rows, _result_headlines(store, rows))
            print(_table(body, headers))
            total = store.count(state=state, tagged=bench)
            if total > len(rows):  # never a silent cap
                print(f"{len(rows)} of {total} shown; --all for all")
            hidden = 0 if bench else store.count(state=state, tagged=True) - total
            if hidden:
                print(f"{hidden} job(s) of `workbench bench` not shown; --bench to include them")
        return 0
    if a.jobs_cmd == "show":
        job = store.get(a.id)
        if a.json:
            _print_json(job)
            return 0
        print(f"job      {job.id}\ntask     {job.task}\ndevice   {job.device}\nstate    {job.state}"
              + (f" ({job.reason})" if job.reason else "")
              + f"\ncreated  {_fmt_time(job.created)}\nduration "
              + (f"{job.duration:.2f} s" if job.duration is not None else "-"))
        print(f"request  {json.dumps(job.request)}")
        if job.result is not None:
            print("result   " + presenters.summary(job.result).replace("\n", "\n         "))
        for name, path in job.files.items():
            print(f"file     {name}: {path}")
        return 0
    if a.jobs_cmd == "cancel":
        from workbench.jobs import cancel

        ok = cancel(a.id)
        state = store.row(a.id)["state"]
        if a.json:
            _print_json({"id": a.id, "cancel_requested": ok, "state": state})
        else:
            print(f"cancel requested for {a.id}" if ok else f"job {a.id} already {state}")
        return 0
    if a.jobs_cmd == "resume":
        from workbench import api

        return _follow_to_the_end(api.resume(a.id, device=a.device), a)
    if a.jobs_cmd == "doctor":
        found = store.doctor(clean=not a.dry_run)
        if a.json:
            _print_json({"found": found, "cleaned": not a.dry_run})
        else:
            for line in found:
                print(line)
            print(f"{len(found)} thing(s) found" if found else "the store is healthy: every job folder has a "
                  "readable record and no working folder is left behind")
        return 0
    raise UsageError(f"unknown jobs command {a.jobs_cmd!r}")


# ---- models -----------------------------------------------------------------------------

def cmd_models(a: argparse.Namespace) -> int:
    from workbench import models
    from workbench.hardware.base import format_bytes

    if a.models_cmd in (None, "list"):
        rows = models.list_models()
        if getattr(a, "json", False):
            _print_json(rows)
        else:
            print(_table([[r["id"], r["task"], r["repo_id"] or "(built in)",
                           "yes" if r["cached"] else "no",
                           format_bytes(r["size_bytes"]) if r["size_bytes"] else r["download_size"]]
                          for r in rows], ["ID", "TASK", "SOURCE", "CACHED", "SIZE"]))
        return 0
    path = models.pull(a.id)
    if a.json:
        _print_json({"id": a.id, "path": str(path) if path else None})
    else:
        print(path or f"{a.id} is built in code; nothing to download")
    return 0


def _all_users(store: Any, as_json: bool) -> int:
    """`jobs list --all-users`: every owner's running and waiting jobs in the slot pool (every home on the
    machine when WORKBENCH_SLOT_POOL is set), then this store's usage per owner."""
    from workbench.settings import settings

    if not store.pool_path.exists():  # looking must not create a machine-wide file (with this user's mode)
        raise UsageError(f"There is no slot pool at {store.pool_path} yet: no job has used it. Check "
                         "WORKBENCH_SLOT_POOL, or run a job first.")
    rows, usage = store.pool.occupancy(), store.usage()
    hosts = _device_hosts(sorted({"cpu", *(r["device"] for r in rows)}))  # this user's device hosts
    if as_json:
        _print_json({"slot_pool": str(store.pool.path), "machine_wide": settings().slot_pool is not None,
                     "slots": rows, "usage": usage, "hosts": hosts})
        return 0
    where = ("every home on this machine" if settings().slot_pool is not None else
             "this home only (set WORKBENCH_SLOT_POOL to share one pool machine-wide)")
    print(f"device slots in {store.pool.path} ({where}):")
    headers, body = presenters.occupancy_table(rows)
    print(_table(body, headers) if rows else "nobody holds or waits for a slot")
    print(f"\njobs per owner in {store.root}:")
    headers, body = presenters.usage_table(usage)
    print(_table(body, headers) if usage else "no jobs yet")
    for device, found in hosts.items():  # one copy of each model for every process of this user
        print("\n" + presenters.device_host_line(device, found))
    return 0


def cmd_gradio(a: argparse.Namespace) -> int:
    from workbench.app import launch

    auth = None
    if a.auth:
        user, sep, password = a.auth.partition(":")
        if not sep or not user or not password:
            raise UsageError("workbench gradio: --auth takes USER:PASSWORD")
        auth = (user, password)
    workshop = None
    quota = {"max_queued": a.max_queued, "max_running": a.max_running, "max_compute_s": a.max_compute_s}
    if a.workshop or any(v is not None for v in quota.values()) or a.host_token:
        from workbench.participants import Workshop

        defaults = {"max_queued": 3, "max_running": 1, "max_compute_s": None} if a.workshop else {}
        workshop = Workshop.preset(**{k: v if v is not None else defaults.get(k) for k, v in quota.items()},
                                   host_token=a.host_token)
        print(f"workshop mode: each browser session sees and cancels only its own jobs; quota per participant: "
              f"{workshop.quota.max_queued or 'any number of'} queued or running, "
              f"{workshop.quota.max_running or 'any number of'} running, "
              f"{f'{workshop.quota.max_compute_s:.0f} s' if workshop.quota.max_compute_s else 'unlimited'} "
              f"device time.\nhost token (type it in Devices & jobs to see everyone): {workshop.host_token}",
              flush=True)
    launch(a.host, a.port, auth=auth, share=a.share, workshop=workshop)
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    """`workbench serve`: start a device's host now (instead of at the first model job), or say what it holds,
    or stop it."""
    import signal

    from workbench.hardware import device_host
    from workbench.settings import settings

    found = device_host.status(a.device)
    if a.stop:
        if found is None:
            print(f"no device host runs for {a.device}")
            return 0
        os.kill(int(found["pid"]), signal.SIGTERM)  # its model worker leaves with it
        print(f"device host for {a.device} (pid {found['pid']}) stopped")
        return 0
    if found is None and not a.status:
        device_host.connect(a.device).close()
        found = device_host.status(a.device)
    if a.json:
        _print_json(found)
        return 0
    if found is None:
        print(f"no device host runs for {a.device}")
        return 0
    print(f"device host for {found['device']}: pid {found['pid']}, socket {device_host.socket_path(a.device)}\n"
          f"  models resident: {', '.join(found.get('models') or []) or 'none yet'}; jobs served: {found['served']}"
          f"; {'running a job' if found.get('busy') else 'idle'}")
    if not settings().device_host:
        print("  note: processes send their model jobs to it when WORKBENCH_DEVICE_HOST=1 is set for them")
    return 0


def cmd_lab(a: argparse.Namespace) -> int:
    import subprocess

    args = [sys.executable, "-m", "jupyterlab", "--ServerApp.jpserver_extensions={'workbench.server': True}",
            f"--ServerApp.ip={a.host}", *(["--port", str(a.port)] if a.port else []), *a.lab_args]
    return subprocess.call(args)


def cmd_demo(a: argparse.Namespace) -> int:
    from workbench.demo import run_demo

    report = run_demo(Path(a.out), quiet=a.quiet, cluster=a.cluster)
    print(report)
    return 0


# ---- parser -----------------------------------------------------------------------------

def build_parser(argv: list[str] | None = None) -> Parser:
    """The whole command line. Only the task named after `run` (in `argv`) gets its options, which
    means importing its request type: `--help` and every other command import no task module."""
    from workbench.tasks.registry import TASKS

    chosen = argv[1] if argv and len(argv) > 1 and argv[0] == "run" else None

    p = Parser(prog="workbench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", parser_class=Parser, metavar="COMMAND")

    d = sub.add_parser("devices", help="list devices (local, plug-ins, cluster); drain or undrain one")
    d.add_argument("action", nargs="?", choices=["list", "drain", "undrain"], default="list",
                   help="drain: move queued and running jobs off a device (every process) and give it no new work")
    d.add_argument("target", nargs="?", metavar="DEVICE", help="the device to drain or undrain")
    d.add_argument("--within", metavar="TIME",
                   help="drain: the device must be free within TIME (30s, 5m): jobs that finish in time stay, the "
                        "others move at their next checkpoint")
    d.add_argument("--json", action="store_true")
    d.add_argument("--profile", action="store_true", help="measure and cache device profiles")
    d.add_argument("--refresh", action="store_true",
                   help="discover again (otherwise the last discovery with the same set-up is shown)")
    d.add_argument("--seconds", type=float, default=0.3, help="profiling budget per figure")
    d.add_argument("--cluster", metavar="ADDRESS",
                   help="also list a Ray cluster's devices: host:port, ray://host:10001, auto, or local")
    d.set_defaults(func=cmd_devices)

    b = sub.add_parser("bench", help="measure each task's standard case on each device (stored for placement)")
    b.add_argument("--task", action="append", help="only this task (repeat for more)")
    b.add_argument("--device", action="append", help="only this device (repeat for more)")
    b.add_argument("--repeats", type=int, default=3, help="timed runs after one warm-up (median; default 3)")
    b.add_argument("--json", action="store_true")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=cmd_bench)
    pr = sub.add_parser("profiles", help="per-task rates by device, model and dtype (history and bench)")
    pr.add_argument("--task")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_profiles)

    r = sub.add_parser("run", help="run a task and wait for its result")
    tasks = r.add_subparsers(dest="task", parser_class=Parser, metavar="TASK")
    for name, spec in TASKS.items():  # every registered task, its options from its request type
        t = tasks.add_parser(name, help=spec.summary, description=spec.summary)
        if name == chosen:
            from workbench.cli.task_options import add_options

            add_options(t, spec)
        t.add_argument("--device", default="auto",
                       help="auto, cpu, cuda:0, npu, ray:..., or a set: any:npu,cpu (fastest predicted) or "
                            "first:npu,cpu (first that can run it) (default auto)")
        t.add_argument("--out", help="copy the result files here (a file name or a folder)")
        t.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
        t.add_argument("--quiet", action="store_true", help="no progress bar")
        t.set_defaults(func=cmd_run)

    gd = sub.add_parser("grasp-dataset", help="simulate grasps on many objects into an ACRONYM-format dataset")
    gd.add_argument("--objects", required=True, help="a folder of meshes, or procedural:N (N shapes from --seed)")
    gd.add_argument("--grasps-per-object", type=int, default=50)
    gd.add_argument("--out", required=True, help="the dataset folder (a run that stopped resumes there)")
    gd.add_argument("--device", action="append", help="a device to deal objects to (repeat for more; default auto)")
    gd.add_argument("--gripper", default="franka")
    gd.add_argument("--sampler", default="jittered", help="jittered (default: failures to learn from) or antipodal")
    gd.add_argument("--seed", type=int, default=0)
    gd.add_argument("--friction", type=float, default=1.0, help="object friction coefficient (default 1.0)")
    gd.add_argument("--density", type=float, default=500.0, help="object density, kg/m^3 (default 500)")
    gd.add_argument("--workers", type=int, default=1, help="worker processes per grasp job")
    gd.add_argument("--json", action="store_true")
    gd.add_argument("--quiet", action="store_true")
    gd.set_defaults(func=cmd_grasp_dataset)
    sub.add_parser("grasp-train", help="train a grasp model on a dataset: workbench grasp-train DATA --out MODEL "
                                       "(the same as workbench run grasp-train --data DATA)")

    sub.add_parser("screen", help="screen a protein target against a ligand library with Boltz-2: workbench screen "
                                  "--target SEQ --ligands FILE.smi|.sdf (the same as workbench run screen)")

    j = sub.add_parser("jobs", help="list, show, cancel jobs in the result store; doctor it")
    js = j.add_subparsers(dest="jobs_cmd", parser_class=Parser, metavar="ACTION")
    jl = js.add_parser("list", help="newest first")
    jl.add_argument("--json", action="store_true")
    jl.add_argument("--limit", type=int, default=50, help="the newest N (default 50; 0: all)")
    jl.add_argument("--all", action="store_true", help="every job")
    jl.add_argument("--bench", action="store_true", help="include the runs of workbench bench")
    jl.add_argument("--state", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    jl.add_argument("--owner", help="only this owner's jobs (a login name, or gradio:<session> on a shared server)")
    jl.add_argument("--all-users", action="store_true",
                    help="who holds and waits for each device slot, across every home sharing the slot pool, "
                         "and the jobs per owner (a workshop teacher's view)")
    for action in ("show", "cancel"):
        ja = js.add_parser(action, help=f"{action} one job")
        ja.add_argument("id")
        ja.add_argument("--json", action="store_true")
    jr = js.add_parser("resume", help="run a killed, failed or cancelled job again, carrying on from the items it "
                                      "finished (a screen's ligands)")
    jr.add_argument("id")
    jr.add_argument("--device", default="auto", help="where to run it (default: placed as a new job)")
    jr.add_argument("--out", help="copy the result's files into this folder")
    jr.add_argument("--quiet", action="store_true", help="no progress bar")
    jr.add_argument("--json", action="store_true")
    jd = js.add_parser("doctor", help="report and clean what killed processes leave: folders without a record, "
                                      "jobs left running, stale working folders")
    jd.add_argument("--dry-run", action="store_true", help="report only")
    jd.add_argument("--json", action="store_true")
    j.set_defaults(func=cmd_jobs, json=False)

    m = sub.add_parser("models", help="list cached models or pull one")
    ms = m.add_subparsers(dest="models_cmd", parser_class=Parser, metavar="ACTION")
    ml = ms.add_parser("list")
    ml.add_argument("--json", action="store_true")
    mp = ms.add_parser("pull")
    mp.add_argument("id")
    mp.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models, json=False)

    demo = sub.add_parser("demo", help="run the demo on every local device and write a report")
    demo.add_argument("--out", default="workbench-demo", help="report folder (default workbench-demo)")
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument("--cluster", action="store_true",
                      help="also start a heterogeneous Ray cluster on 127.0.0.1: placement by per-task figures, "
                           "and a job drained off its node that resumes elsewhere")
    demo.set_defaults(func=cmd_demo)
    gr = sub.add_parser("gradio", help="serve the Gradio app (127.0.0.1 unless --host)")
    gr.add_argument("--host", default="127.0.0.1")
    gr.add_argument("--port", type=int, default=None)
    gr.add_argument("--auth", metavar="USER:PASSWORD", help="ask for a login")
    gr.add_argument("--share", action="store_true", help="open a public gradio.live link (off by default)")
    gr.add_argument("--workshop", action="store_true",
                    help="serve a room: each browser session sees and cancels only its own jobs, queues are fair "
                         "between participants, tiny models first, quota 3 queued / 1 running each unless set")
    gr.add_argument("--max-queued", type=_limit(int, MAX_COUNT), default=None, metavar="N",
                    help="jobs one participant may have queued or running at once (implies isolation)")
    gr.add_argument("--max-running", type=_limit(int, MAX_COUNT), default=None, metavar="N",
                    help="device slots one participant may hold at once (implies isolation)")
    gr.add_argument("--max-compute-s", type=_limit(float, MAX_SECONDS), default=None, metavar="S",
                    help="seconds of device time one participant may use (implies isolation)")
    gr.add_argument("--host-token", default=None, metavar="TOKEN",
                    help="the token that shows the host every participant's jobs (default: a random one, printed)")
    gr.set_defaults(func=cmd_gradio)

    sv = sub.add_parser("serve", help="start a device's host (one copy of each model for every process of this "
                                      "user; used with WORKBENCH_DEVICE_HOST=1), say what it holds, or stop it")
    sv.add_argument("--device", default="cpu", help="the device (default: cpu)")
    sv.add_argument("--status", action="store_true", help="say what the host holds; start nothing")
    sv.add_argument("--stop", action="store_true", help="stop the host (its models are freed)")
    sv.add_argument("--json", action="store_true")
    sv.set_defaults(func=cmd_serve)

    lab = sub.add_parser("lab", help="start JupyterLab with the workbench server extension")
    lab.add_argument("--host", default="127.0.0.1")
    lab.add_argument("--port", type=int, default=None)
    lab.add_argument("lab_args", nargs=argparse.REMAINDER, help="passed on to jupyter lab")
    lab.set_defaults(func=cmd_lab)
    return p


def _finish() -> None:
    """Leave a Ray cluster we joined, so the process exits promptly."""
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["grasp-train"]:  # an alias of `run grasp-train`, with the dataset as its argument
        rest = argv[1:]
        argv = ["run", "grasp-train", *(["--data", rest[0], *rest[1:]] if rest and not rest[0].startswith("-")
                                        else rest)]
    if argv[:1] == ["screen"]:  # an alias of `run screen`
        argv = ["run", "screen", *argv[1:]]
    from workbench.settings import settings

    for problem in settings().problems:  # a variable that cannot be read is not used: say so, every time
        print(f"workbench: note: {problem}", file=sys.stderr)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            if args.cmd == "run":
                raise UsageError("workbench run: name a task (see workbench run --help)")
            parser.print_help()
            return 2
        return args.func(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except WorkbenchError as exc:
        from workbench.settings import settings

        if settings().debug:
            raise
        print(f"workbench: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, (JobFailed, Cancelled)) else 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `workbench jobs list | head`: the reader left; that is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail again
        return 0
    finally:
        _finish()


def run() -> None:
    """The `workbench` command: `main`, then exit without the interpreter's teardown.

    By the time `main` returns, the answer is printed and every job is settled in the store. What
    remains is the teardown of native libraries (h5py, MuJoCo, torch), where a C++ destructor has
    been seen to abort with "double free or corruption" after a long grasp run: that must not turn a
    finished command into exit code -6. So the exit handlers run (workers stopped, Ray left), the
    streams are flushed, and the process ends at once."""
    import atexit

    code = main()
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing left to say
                pass
        os._exit(code)


if __name__ == "__main__":
    run()
