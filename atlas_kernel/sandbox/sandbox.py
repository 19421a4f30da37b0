"""`Sandbox`: a pool of fork servers, one per worker slot, and the shared default instance."""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from queue import SimpleQueue
from typing import Any, NamedTuple

from . import _wire
from .limits import Limits
from .result import RunResult

_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_forkserver.py")
_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_START_TIMEOUT_S = 30.0
_REPLY_GRACE_S = 20.0  # beyond the run's own wall limit, before we declare the server hung

# Host directories a program has no business reading (secrets, other users, service sockets).
# The project directory is added at runtime; the Python installation is re-exposed if under one.
DEFAULT_HIDE_PATHS: tuple[str, ...] = (
    "/root", "/home", "/run", "/srv", "/mnt", "/media", "/opt", "/boot", "/var/lib", "/var/log",
    "/var/mail", "/var/spool", "/var/backups", "/var/cache", "/var/www",
)
_NOT_HIDEABLE = {"/", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/proc", "/sys",
                 "/dev", "/tmp", "/var"}


class Job(NamedTuple):
    """One program for `Sandbox.run_many`."""

    code: str
    stdin: str = ""
    limits: Limits | None = None


JobLike = Job | str | tuple[Any, ...] | Mapping[str, Any]


def _top_dir(path: str) -> str | None:
    parts = os.path.realpath(path).split("/")
    return "/" + parts[1] if len(parts) > 1 and parts[1] else None


# ----------------------------------------------------------------- uids -----

_UID_LOCK_DIR = os.path.join(tempfile.gettempdir(), "atlas-sandbox-uid-locks")


def _claim_uid(base: int, span: int = 4096) -> tuple[int, int]:
    """A uid no account uses and no other live Sandbox holds (flock on a lock file).
    Returns (uid, lock_fd); the lock lives as long as the fd."""
    import pwd

    os.makedirs(_UID_LOCK_DIR, mode=0o700, exist_ok=True)
    for uid in range(base, base + span):
        try:
            pwd.getpwuid(uid)
            continue  # a real account: not ours to use
        except KeyError:
            pass
        fd = os.open(os.path.join(_UID_LOCK_DIR, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return uid, fd
        except OSError:
            os.close(fd)
    raise RuntimeError(f"no free sandbox uid in [{base}, {base + span})")


# ----------------------------------------------------------------- runner ---

class _Runner:
    """One fork server (one worker slot). Used by one thread at a time."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.proc: subprocess.Popen[bytes] | None = None
        self.hello: dict[str, Any] = {}
        self.restarts = 0

    # -- lifecycle
    def spawn(self) -> None:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"}
        # -s -S: no site/site-packages, -P: no script dir on sys.path, -B: no .pyc writes.
        # Not -E/-I: the environment is entirely ours, and PYTHONHASHSEED=0 makes runs reproducible.
        self.proc = subprocess.Popen(
            [sys.executable, "-s", "-S", "-P", "-B", _SERVER, json.dumps(self.cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd="/", close_fds=True,
            start_new_session=True,  # a Ctrl-C in the notebook must not reach the server
        )

    def wait_hello(self, deadline: float) -> None:
        assert self.proc is not None
        msg = self._read(deadline)
        if not isinstance(msg, dict) or msg.get("op") != "hello":
            self.kill()
            raise RuntimeError(f"sandbox fork server failed to start: {msg!r}")
        self.hello = msg

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.kill()  # its runs die too: PDEATHSIG on every supervisor
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()  # type: ignore[union-attr]
            except OSError:
                pass
        self.proc = None

    def close(self, timeout: float = 5.0) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]  # EOF: the server exits
            self.proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    # -- protocol
    def _read(self, deadline: float) -> Any:
        assert self.proc is not None and self.proc.stdout is not None
        return _wire.read_msg(self.proc.stdout.fileno(), deadline)

    def spare_pid(self) -> int | None:
        """The pid of the child this server has pre-forked for its next run (None if none)."""
        if not self.alive():
            return None
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(_wire.frame({"op": "ping"}))
            self.proc.stdin.flush()
            reply = self._read(time.monotonic() + 10)
        except (OSError, TimeoutError, ValueError):
            return None
        return reply.get("spare") if isinstance(reply, dict) else None

    def call(self, job: dict[str, Any], wall_s: float) -> RunResult:
        r = self._call_once(job, wall_s)
        if r.status == "sandbox_error" and self.proc is None:
            # the server died (killed from outside, or it was already dead and only looked alive):
            # it is restarted; run the job once more rather than report a non-result
            r2 = self._call_once(job, wall_s)
            if r2.status != "sandbox_error":
                return r2
        return r

    def _call_once(self, job: dict[str, Any], wall_s: float) -> RunResult:
        t0 = time.monotonic()
        if not self.alive():
            try:
                self.kill()
                self.spawn()
                self.restarts += 1
                self.wait_hello(time.monotonic() + _START_TIMEOUT_S)
            except Exception as e:  # noqa: BLE001
                return RunResult.sandbox_error(f"could not (re)start the fork server: {e}")
        assert self.proc is not None and self.proc.stdin is not None
        body = _wire.frame(job)
        try:
            self.proc.stdin.write(body)
            self.proc.stdin.flush()
            reply = self._read(t0 + wall_s + _REPLY_GRACE_S + len(body) / 50e6)
        except TimeoutError:
            self.kill()
            return RunResult.sandbox_error("fork server did not answer in time; restarted",
                                           time.monotonic() - t0)
        except (OSError, ValueError) as e:
            reply = None
            err = e
        else:
            err = None
        if reply is None:
            code = self.proc.poll() if self.proc else None
            self.kill()
            why = f"exit status {code}" if code is not None else f"{err!r}"
            return RunResult.sandbox_error(f"fork server died during the run ({why}); it will be restarted",
                                           time.monotonic() - t0)
        return RunResult.from_dict(reply)


def _shutdown(runners: list[_Runner], lock_fds: list[int]) -> None:
    for r in runners:
        r.close()
    for fd in lock_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    lock_fds.clear()


# ----------------------------------------------------------------- sandbox --

class Sandbox:
    """A pool of `workers` fork servers; see the package docstring for what is isolated.

    Thread-safe: `run` and `run_many` may be called from several threads.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        limits: Limits | None = None,
        namespaces: bool = True,
        drop_uid: bool = True,
        uid_base: int = 59000,
        seccomp: bool = True,
        hide_paths: Sequence[str] | None = None,
        expose_paths: Sequence[str] = (),
        python_path: Sequence[str] = (),
        userns: bool | None = None,
    ) -> None:
        """workers: pool size (default os.cpu_count()); limits: default per-run limits.
        namespaces=False, drop_uid=False, seccomp=False switch protections off (for tests of the
        fallbacks; `protections()` shows the result). hide_paths: directories to cover (None =
        DEFAULT_HIDE_PATHS + the project's and cwd's top directory); expose_paths: re-exposed
        read-only below them (the Python installation always is); python_path: extra sys.path
        entries for programs (e.g. a site-packages with numpy), exposed too. userns: None = use
        a user namespace only when not root; True = always (exercises the unprivileged path)."""
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.limits = limits or Limits()
        self._lock_fds: list[int] = []
        self._runners: list[_Runner] = []
        self._closed = False
        hide = list(DEFAULT_HIDE_PATHS if hide_paths is None else hide_paths)
        if hide_paths is None:  # the project and the caller's directory tree (hidden tests live there)
            for p in (os.getcwd(), _PROJECT_ROOT):
                top = _top_dir(p)
                if top and top not in _NOT_HIDEABLE and top not in hide:
                    hide.append(top)
        expose = {sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable)), *expose_paths, *python_path}
        base_cfg: dict[str, Any] = {
            "namespaces": namespaces, "seccomp": seccomp, "hide_paths": hide,
            "expose_paths": sorted(p for p in expose if p), "python_path": list(python_path),
            "probe_limits": Limits(timeout_s=10.0).wire(), "userns": userns,
        }
        want_uid = drop_uid and os.geteuid() == 0 and not userns
        try:
            for _ in range(self.workers):
                cfg = dict(base_cfg)
                if want_uid:  # one uid per slot: RLIMIT_NPROC then counts only that run's processes
                    uid, fd = _claim_uid(uid_base)
                    self._lock_fds.append(fd)
                    cfg.update(uid=uid, gid=uid)
                self._runners.append(_Runner(cfg))
            for r in self._runners:  # start them all, then wait: startups overlap
                r.spawn()
            deadline = time.monotonic() + _START_TIMEOUT_S
            for r in self._runners:
                r.wait_hello(deadline)
        except BaseException:
            _shutdown(self._runners, self._lock_fds)
            raise
        self._free: SimpleQueue[_Runner] = SimpleQueue()
        for r in self._runners:
            self._free.put(r)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="atlas-sandbox")
        self._finalizer = weakref.finalize(self, _shutdown, self._runners, self._lock_fds)

    # -- context manager
    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True)
        self._finalizer()

    # -- running
    def _call(self, job: dict[str, Any]) -> RunResult:
        if self._closed:
            raise RuntimeError("Sandbox is closed")
        runner = self._free.get()
        try:
            return runner.call(job, float(job["limits"]["wall_s"]))
        finally:
            self._free.put(runner)

    def _wire(self, code: str, stdin: str, limits: Limits | None, kind: str = "script",
              timeout_s: float | None = None, **payload: Any) -> dict[str, Any]:
        lim = limits or self.limits
        return {"op": "run", "kind": kind, "code": code, "stdin": stdin, "limits": lim.wire(timeout_s), **payload}

    def run(self, code: str, stdin: str = "", limits: Limits | None = None) -> RunResult:
        """Run `code` as a Python program (as `__main__`) with `stdin`; one fresh process."""
        return self._call(self._wire(code, stdin, limits))

    def run_many(self, jobs: Sequence[JobLike], limits: Limits | None = None) -> list[RunResult]:
        """Run programs in parallel on all worker slots; results in the order of `jobs`.

        A job is a `Job`, a code string, a (code, stdin[, limits]) tuple or a mapping with
        those keys; `limits` is the default for jobs that carry none."""
        wires = [self._wire(j.code, j.stdin, j.limits or limits) for j in map(_as_job, jobs)]
        return self.run_wire_many(wires)

    def run_wire_many(self, wires: Sequence[dict[str, Any]]) -> list[RunResult]:
        """Internal: run prepared server jobs in parallel (used by `execution`)."""
        if len(wires) == 1:
            return [self._call(wires[0])]
        return list(self._pool.map(self._call, wires))

    def submit_wire(self, wire: dict[str, Any]) -> Any:
        """Internal: one prepared job, asynchronously (a concurrent.futures.Future)."""
        return self._pool.submit(self._call, wire)

    # -- introspection
    def server_pids(self) -> list[int]:
        return [r.proc.pid for r in self._runners if r.proc is not None and r.alive()]

    def sandbox_uids(self) -> list[int]:
        return [r.cfg["uid"] for r in self._runners if "uid" in r.cfg]

    def leftover_processes(self) -> list[str]:
        """Processes that should not exist between runs: descendants of the fork servers,
        processes running as a sandbox uid, zombies whose parent is a server. Empty when healthy.
        Each server keeps one pre-forked child waiting for the next run; those are not counted.
        Waits until no run is in flight."""
        runners = [self._free.get() for _ in self._runners]  # all idle now
        try:
            spares = {p for p in (r.spare_pid() for r in runners) if p}
        finally:
            for r in runners:
                self._free.put(r)
        servers = set(self.server_pids())
        uids = set(self.sandbox_uids())
        procs: dict[int, tuple[int, str, str, int]] = {}  # pid -> (ppid, state, comm, uid)
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
                with open(f"/proc/{d}/status") as f:
                    uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
            except (OSError, StopIteration, ValueError):
                continue
            comm = stat[stat.index("(") + 1: stat.rindex(")")]
            state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
            procs[int(d)] = (int(ppid), state, comm, uid)
        bad: list[str] = []
        for pid, (ppid, state, comm, uid) in procs.items():
            if pid in servers or (pid in spares and ppid in servers and state != "Z"):
                continue
            anc, hops = ppid, 0
            while anc > 1 and anc not in servers and anc in procs and hops < 64:
                anc, hops = procs[anc][0], hops + 1
            if anc in servers or uid in uids:
                bad.append(f"pid {pid} ppid {ppid} state {state} uid {uid} {comm}")
        return bad

    def protections(self) -> dict[str, bool | str]:
        """Which protections are actually in force, as verified by each server's start-up probe
        (a step counts only if it was applied in the probe; afterwards every run must apply it
        or is aborted as a sandbox_error)."""
        hello = self._runners[0].hello
        probe = hello.get("probe", {})
        a: dict[str, Any] = probe.get("applied", {})
        obs: dict[str, Any] = probe.get("observed", {})
        flags = int(probe.get("ns_flags", 0))
        on = lambda k: a.get(k) is True  # noqa: E731
        pidns = bool(flags & 0x20000000) and obs.get("pid") == 1
        netns = bool(flags & 0x40000000) and obs.get("interfaces") in (["lo"], [])
        uids = self.sandbox_uids()
        p: dict[str, bool | str] = {
            "fresh_process_per_run": True,
            "forkserver_isolated": "yes: python -s -S -P, scrubbed env, no model, no parent fds",
            "pid_namespace": pidns,
            "net_namespace": netns,
            "mount_namespace": bool(flags & 0x00020000) and on("mount_ns"),
            "ipc_namespace": bool(flags & 0x08000000),
            "uts_namespace": bool(flags & 0x04000000) and on("hostname"),
            "user_namespace": bool(probe.get("userns")),
            "private_proc": on("private_proc") and obs.get("procs_visible", 99) <= 2,
            "readonly_host_fs": on("readonly_root") and obs.get("root_readonly") is True,
            "private_tmp_workdir": (on("private_tmp") and bool(obs.get("tmp_dev_differs")))
                                   or "no: fresh host temp dir per run, removed afterwards",
            "hidden_paths": ", ".join(obs["hide_paths"]) if on("hide_paths") and obs.get("hide_paths") else False,
            "uid_drop": (False if not on("uid_drop") else
                         f"yes: uid {', '.join(map(str, uids))} (one per worker slot)"
                         if str(obs.get("uid_drop", "")).startswith("uid") and uids
                         else f"yes: {obs.get('uid_drop', 'unprivileged uid')}"),
            "no_new_privs": on("no_new_privs") and obs.get("no_new_privs") == 1,
            "seccomp": on("seccomp") and obs.get("seccomp_mode") == 2,
            "rlimit_cpu": on("rlimit_cpu"),
            "rlimit_as": on("rlimit_as") or "no: RLIMIT_AS refused, resident memory watched instead",
            "rlimit_fsize": on("rlimit_fsize"),
            "rlimit_nofile": on("rlimit_nofile"),
            "rlimit_nproc": on("rlimit_nproc") and (on("uid_drop") or bool(probe.get("userns"))),
            "rlimit_core": on("rlimit_core"),
            "env_scrubbed": obs.get("env_keys") is not None and not any(
                k.startswith(("ATLAS", "AWS", "HF_", "OPENAI", "GITHUB")) for k in obs.get("env_keys", [])),
            "kill_scope": "pid namespace (all descendants)" if pidns else "process tree walk (weaker)",
            "success_sentinel": True,
            "cgroup_memory": False,
        }
        if probe.get("errors"):
            p["probe_notes"] = "; ".join(probe["errors"])[:500]
        return p


def _as_job(j: JobLike) -> Job:
    if isinstance(j, Job):
        return j
    if isinstance(j, str):
        return Job(j)
    if isinstance(j, tuple):
        return Job(*j)
    if isinstance(j, Mapping):
        return Job(j["code"], j.get("stdin", ""), j.get("limits"))
    raise TypeError(f"not a sandbox job: {type(j).__name__}")


# ----------------------------------------------------------------- default --

_default: Sandbox | None = None
_default_lock = threading.Lock()


def get_sandbox() -> Sandbox:
    """The process-wide shared Sandbox (os.cpu_count() workers), created on first use and
    closed at interpreter exit."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = Sandbox()
            atexit.register(_default.close)
        return _default


def close_default_sandbox() -> None:
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
            _default = None

