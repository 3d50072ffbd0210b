"""A device host: one process per device that holds each model once and runs the model tasks of every
workbench process of its user (each notebook kernel, each CLI call, each Gradio server).

Why: without it every process owns a model worker per device, and each worker loads its own copy of
every model it runs: 30 kernels hold 30 copies, and each pays the worker's start and the model's load.
With `WORKBENCH_DEVICE_HOST=1` (or `workbench serve`), a model task (`TaskSpec.isolate_model`) goes to
the device's host instead, over a Unix socket; the host is started on first need and leaves after
`WORKBENCH_HOST_IDLE_S` seconds without work.

The host is a front door and one model worker (`hardware.isolated.WorkerPool`, limit 1): the models
live in that worker, so a native crash fails the job it ran, the worker is replaced, and the host
stays. The door speaks length-prefixed JSON, never pickle: a request travels as its fields and is
rebuilt and checked by `tasks.requests.make_request` from the registry's own types; results, progress
and checkpoints travel as JSON and are rebuilt by the caller from its task's declared result type.

Who may call: the socket's folder is the caller's own (mode 0700), and the host also checks the
peer's credentials from the kernel (SO_PEERCRED): a process of another Unix user is refused with a
sentence. Serving several users (JupyterHub) needs inputs and outputs to travel as data rather than
paths into homes; that is not built yet, so this host serves one user's processes (every home and
every process of that user).

A caller's job ends with a sentence when the host dies mid-job (the next job starts a fresh host);
a caller that dies mid-job is noticed by its closed connection, and the host stops that work.
Cancel and drain reach the host within `CANCEL_POLL_S` and stop the task at its next progress report
(the model worker's own rules then apply: a silent worker is stopped after 2 s).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from workbench.contract.errors import Cancelled, DeviceLost, WorkbenchError
from workbench.contract.progress import Progress
from workbench.contract.task import TaskContext, TaskSpec

log = logging.getLogger(__name__)

#: how often a caller looks for a cancel while the host is silent
CANCEL_POLL_S = 0.25
#: the longest a caller waits for a host it started to take connections
START_TIMEOUT_S = 120.0
#: the most bytes one message may hold (a result's JSON, a checkpoint with a finished item's files)
MAX_MESSAGE = 256 * 1024 * 1024
_HEADER = struct.Struct("!I")


class HostError(WorkbenchError):
    """The device host could not be reached, refused the caller, or stopped mid-job."""


# ---- framing ------------------------------------------------------------------------------------

def send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message, ensure_ascii=True, allow_nan=False).encode("ascii")
    sock.sendall(_HEADER.pack(len(data)) + data)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> dict[str, Any]:
    (size,) = _HEADER.unpack(_read_exactly(sock, _HEADER.size))
    if size > MAX_MESSAGE:
        raise EOFError(f"a message of {size} bytes is larger than the host takes")
    message = json.loads(_read_exactly(sock, size))
    if not isinstance(message, dict):
        raise EOFError("a message that is not a JSON object")
    return message


def peer_uid(sock: socket.socket) -> int:
    """The Unix user of the process at the other end, as the kernel knows it (not as it says)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


# ---- where hosts live ---------------------------------------------------------------------------

def host_dir(create: bool = True) -> Path:
    """This user's folder of device hosts (`WORKBENCH_HOST_DIR`, else /tmp/workbench-hosts-UID), mode 0700
    (`create=False`: only where it is; looking at hosts makes nothing)."""
    from workbench.settings import settings

    folder = settings().host_dir or Path(f"/tmp/workbench-hosts-{os.getuid()}")
    if not create:
        return folder
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_uid != os.getuid():
        raise HostError(f"The device host folder {folder} belongs to another user; set WORKBENCH_HOST_DIR to a "
                        "folder of your own.")
    os.chmod(folder, 0o700)
    return folder


def socket_path(device_id: str, create: bool = True) -> Path:
    from workbench.contract.names import safe_name

    path = host_dir(create) / f"{safe_name(device_id, fallback='device')}.sock"
    if len(str(path)) > 100:  # AF_UNIX paths hold 108 bytes
        raise HostError(f"The device host's socket path {path} is too long for a Unix socket; set "
                        "WORKBENCH_HOST_DIR to a shorter folder.")
    return path


# ---- the host -----------------------------------------------------------------------------------

class Host:
    """The front door of one device's host: each connection is one job of one caller."""

    def __init__(self, device_id: str, backend: Any, capabilities: Any, idle_s: float):
        from workbench.hardware.isolated import WorkerPool

        self.device_id, self.backend, self.capabilities = device_id, backend, capabilities
        self.pool = WorkerPool(backend, self.device_id, limit=1)
        self.idle_s = idle_s
        self.active = 0
        self.served = 0
        self.last_active = time.monotonic()
        self._lock = threading.Lock()

    def serve(self, path: Path) -> None:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        server.bind(str(path))
        os.chmod(path, 0o600)
        server.listen(64)
        server.settimeout(1.0)
        log.info("device host for %s listening on %s (pid %d)", self.device_id, path, os.getpid())
        try:
            while True:
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    with self._lock:
                        idle = self.active == 0 and time.monotonic() - self.last_active > self.idle_s
                    if idle:
                        return
                    continue
                threading.Thread(target=self._handle, args=(conn,), daemon=True,
                                 name="workbench-host-conn").start()
        finally:
            server.close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self.pool.close()

    def _handle(self, conn: socket.socket) -> None:
        with conn, self._busy():
            try:
                if peer_uid(conn) != os.getuid():
                    send(conn, {"kind": "error", "error": "workbench", "text":
                                f"This device host serves the processes of user {os.getuid()} only; yours is "
                                f"user {peer_uid(conn)}."})
                    return
                message = receive(conn)
                if message.get("op") == "status":
                    send(conn, {"kind": "status", **self.status()})
                elif message.get("op") == "run":
                    self._run(conn, message)
                else:
                    send(conn, {"kind": "error", "error": "workbench", "text": "The device host does not know "
                                f"the operation {str(message.get('op'))[:40]!r}."})
            except (EOFError, OSError, ValueError) as exc:
                log.debug("device host: a connection ended: %s", exc)

    @contextlib.contextmanager
    def _busy(self) -> Any:
        with self._lock:
            self.active += 1
        try:
            yield
        finally:
            with self._lock:
                self.active -= 1
                self.last_active = time.monotonic()

    def status(self) -> dict[str, Any]:
        resident = self.pool.status()
        return {"device": self.device_id, "pid": os.getpid(), "active": self.active, "served": self.served,
                **resident}

    def _run(self, conn: socket.socket, message: dict[str, Any]) -> None:
        from workbench.jobs.runner import error_outcome
        from workbench.tasks.registry import get_task
        from workbench.tasks.requests import make_request

        stop = threading.Event()
        reason = ["cancelled"]
        send_lock = threading.Lock()

        def reply(item: dict[str, Any]) -> None:
            with send_lock:
                send(conn, item)

        def listen() -> None:  # the caller's cancel, or its connection closing (it died): stop the work
            try:
                while True:
                    item = receive(conn)
                    if item.get("op") == "cancel":
                        reason[0] = str(item.get("reason") or "cancelled")[:400]
                        stop.set()
            except (EOFError, OSError, ValueError):
                reason[0] = "the process that asked for it stopped"
                stop.set()

        try:
            spec = get_task(str(message.get("task")))
            if not spec.isolate_model:
                raise HostError(f"The device host runs model tasks only; {spec.name} runs in the caller's process.")
            request = make_request(spec, None, **dict(message.get("request") or {}))
            from workbench.jobs.checkpoints import from_plain

            checkpoints = from_plain(message.get("checkpoints") or {})
            workdir = Path(str(message["workdir"]))
            environment = {str(k): str(v) for k, v in (message.get("environment") or {}).items()}
        except Exception as exc:  # noqa: BLE001 - refused before anything runs, as a sentence
            reply(_outcome(error_outcome(exc)))
            return
        threading.Thread(target=listen, daemon=True, name="workbench-host-listen").start()

        def report(progress: Any) -> None:
            if stop.is_set():
                raise Cancelled(reason[0])
            from workbench.jobs.codec import to_jsonable

            reply({"kind": "progress", "progress": to_jsonable(progress, strict=False)})

        def save(key: str, value: Any) -> None:  # never raises: the worker's task goes on either way
            try:
                reply({"kind": "checkpoint", "key": key, "value": _packed(value)})
            except OSError:
                log.debug("device host: a checkpoint could not reach its caller", exc_info=True)

        ctx = TaskContext(self.device_id, self.capabilities, self.backend, workdir, report,
                          stop.is_set, checkpoints=checkpoints, save_checkpoint=save)
        try:
            result = self.pool.run(spec, request, ctx, environment=environment)
        except Exception as exc:  # noqa: BLE001 - every fault goes back to the caller as its outcome
            with contextlib.suppress(OSError):
                reply(_outcome(error_outcome(exc)))
            return
        self.served += 1
        with contextlib.suppress(OSError):
            reply({"kind": "done", "result": _packed(result)})


def _packed(value: Any) -> str:
    """A result or checkpoint from the host to its caller, exactly as the worker made it (numpy arrays, the
    task's own classes): a pickle, in base64. Only ever this way: the caller trusts its device host as it
    trusted its own model worker, and the host never unpickles what a caller sends."""
    return base64.b64encode(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")


def _unpacked(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))  # noqa: S301 - from this user's own device host, see _packed


def _outcome(outcome: tuple[str, str, str]) -> dict[str, Any]:
    return {"kind": "error", "error": outcome[1], "text": outcome[2]}


# ---- the caller's side --------------------------------------------------------------------------

def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def connect(device_id: str, ctx: TaskContext | None = None) -> socket.socket:
    """A connection to the device's host, starting one when none answers (one starter at a time: a lock)."""
    path = socket_path(device_id)
    sock = _connect(path)
    if sock is not None:
        return sock
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sock = _connect(path)  # another process started it while this one waited for the lock
        if sock is not None:
            return sock
        if ctx is not None:
            ctx.progress(Progress(0, None, f"starting the device host for {device_id} (it keeps each model once "
                                           "for every process)"))
        log_file = path.with_suffix(".log").open("ab")
        process = subprocess.Popen([sys.executable, "-m", "workbench.scheduling.serve", device_id, str(path)],
                                   stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                   start_new_session=True, cwd=str(path.parent))
        log_file.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            sock = _connect(path)
            if sock is not None:
                return sock
            if process.poll() is not None:
                raise HostError(f"The device host for {device_id} could not start (exit code {process.returncode}); "
                                f"its log is {path.with_suffix('.log')}.")
            time.sleep(0.05)
        process.kill()
    raise HostError(f"The device host for {device_id} did not answer within {START_TIMEOUT_S:.0f} s.")


def status(device_id: str) -> dict[str, Any] | None:
    """What the device's host holds (models resident, how often each was loaded, its worker's pid), or None
    when no host runs."""
    path = socket_path(device_id, create=False)
    sock = _connect(path) if path.exists() else None
    if sock is None:
        return None
    with sock:
        send(sock, {"op": "status"})
        reply = receive(sock)
    if reply.get("kind") != "status":
        raise HostError(str(reply.get("text") or "The device host did not say its status."))
    return reply


def run(spec: TaskSpec, request: Any, ctx: TaskContext) -> Any:
    """Run a model task in its device's host; progress and checkpoints come back to `ctx`, and a cancel or a
    drain that `ctx` raises goes to the host, which stops the task at its next report."""
    from workbench.hardware.isolated import forwarded_environment
    from workbench.jobs.checkpoints import to_plain
    from workbench.jobs.codec import to_jsonable
    from workbench.jobs.runner import error_from

    sock = connect(ctx.device_id, ctx)
    stop: BaseException | None = None
    carried = {}
    for key, value in ctx.checkpoints.items():  # as JSON: the host never unpickles what a caller sends
        try:
            carried[key] = to_plain(value)
        except TypeError:
            log.debug("checkpoint %r has no JSON form; the host redoes that item", key)
    with sock:
        try:
            send(sock, {"op": "run", "task": spec.name, "request": to_jsonable(request), "checkpoints": carried,
                        "workdir": str(ctx.workdir), "environment": forwarded_environment()})
        except OSError:  # a host that refuses the caller says why before it reads anything: read that below
            log.debug("device host: the request was not taken", exc_info=True)
        sock.settimeout(CANCEL_POLL_S)
        while True:
            try:
                message = receive(sock)
            except TimeoutError:
                if stop is None and ctx.cancelled():
                    stop = Cancelled("cancelled by the user")
                    send(sock, {"op": "cancel", "reason": str(stop)})
                continue
            except (EOFError, OSError) as exc:
                raise HostError(f"The device host for {ctx.device_id} stopped while running {spec.name} ({exc}); "
                                "the next job starts a fresh one.") from None
            kind = message.get("kind")
            if kind == "progress" and stop is None:
                try:
                    ctx.progress(Progress(**message["progress"]))
                except (Cancelled, DeviceLost) as exc:
                    stop = exc
                    send(sock, {"op": "cancel", "reason": str(exc)})
            elif kind == "checkpoint":
                ctx.checkpoint(str(message["key"]), _unpacked(message["value"]))
            elif kind == "done":
                if stop is not None:
                    raise stop
                return _unpacked(message["result"])
            elif kind == "error":
                if stop is not None:
                    raise stop
                raise error_from(str(message.get("error")), str(message.get("text")))
