"""The fork server: a small dedicated process that forks one sandboxed child per run.

Started by `atlas_kernel.sandbox.Sandbox` as ``python -s -S -P -B _forkserver.py CONFIG``
with a scrubbed environment and only its two protocol pipes, so the children it
forks hold no model, no CUDA context and no secrets of the calling process.
Stdlib only; the sibling modules `_linux` and `_harness` are loaded by path.

Once per server (`prepare_template`): enter private mount, network and UTS namespaces
(as root; otherwise inside a user namespace of its own), make the mount tree private,
cover private host directories with empty tmpfs (re-exposing the Python installation),
and make the whole tree read-only. This is the template every run's mount namespace is
copied from, and the empty network namespace every run shares (runs of one server are
sequential and all their processes are dead between runs).

Per run (one at a time per server; the parent runs one server per worker slot):

    server --clone(NEWPID|NEWNS|NEWIPC)--> child (PID 1 of its own pid namespace)

The child mounts its own /proc and a private tmpfs /tmp (+ /dev/shm, /var/tmp), drops
to the slot's uid, sets no_new_privs and a seccomp deny-list, then blocks reading its
job: the server forks it *before* the job arrives (right after answering the previous
one), so that setup is off the critical path. Each child still runs exactly one job.
With the job come the rlimits (lowering needs no privilege) and the driver from
`_harness`. The server feeds stdin, collects bounded stdout/stderr and the report pipe,
and on timeout kills the child: being PID 1 of its namespace it takes every descendant
with it. The child has PDEATHSIG=SIGKILL (re-armed after the uid change, which clears
it). The server is a child subreaper and reaps everything before answering, so no
orphan or zombie outlives a run.

Protocol on the pipes: `_wire` (8-byte big-endian length, then UTF-8 JSON). Linux confinement
(namespaces, mounts, uid drop, process-tree control) lives in `_linux`; this file is the server
and its run loop.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import importlib.util
import json
import os
import resource
import select
import signal
import sys
import time
from typing import Any, NoReturn

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_atlas_sandbox{name}", os.path.join(_HERE, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


L = _load("_linux")
H = _load("_harness")
W = _load("_wire")

REPORT_FD = 99          # where the child sees the report pipe (O_CLOEXEC)
REPORT_CAP = 8 << 20    # the report channel is ours, but the program can write to it too: bound it
READ_CHUNK = 1 << 16
KILL_GRACE_S = 5.0      # after SIGKILL, how long to wait for pipes to close before giving up on them
SIGNAMES = {getattr(signal, n): n for n in dir(signal) if n.startswith("SIG") and not n.startswith("SIG_")}

NS_RUN = L.CLONE_NEWPID | L.CLONE_NEWNS | L.CLONE_NEWIPC  # per run; net/uts come from the server



# ------------------------------------------------------------- helpers -------

class _Tail:
    """Bounded capture: keeps the first `head` bytes and the last `tail` bytes."""

    def __init__(self, limit: int, keep_tail: bool) -> None:
        self.limit = limit
        self.head_cap = limit // 2 if keep_tail else limit
        self.tail_cap = limit - self.head_cap if keep_tail else 0
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, b: bytes) -> None:
        self.total += len(b)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += b[:room]
            b = b[room:]
        if b and self.tail_cap:
            self.tail += b
            if len(self.tail) > 2 * self.tail_cap:  # trim lazily: amortised O(1)
                del self.tail[: len(self.tail) - self.tail_cap]

    @property
    def truncated(self) -> bool:
        return self.total > self.limit

    def text(self) -> str:
        if not self.truncated:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", "replace")
        tail = bytes(self.tail[-self.tail_cap:]) if self.tail_cap else b""
        dropped = self.total - len(self.head) - len(tail)
        marker = f"\n...[{dropped} bytes truncated by the sandbox]...\n".encode()
        return (bytes(self.head) + marker + tail).decode("utf-8", "replace")


def _set_nonblock(fd: int) -> None:
    os.set_blocking(fd, False)


# ------------------------------------------------------------- the server ----

class _Spare:
    """A child forked ahead of its job: namespaces, mounts, uid, seccomp already in place; it
    waits for the job on `job_w`'s pipe. Used for exactly one run."""

    def __init__(self, pid: int, pidfd: int, nonce: str, fds: dict[str, int], tmp_mb: int, strict: bool,
                 workdir: str | None) -> None:
        self.pid, self.pidfd, self.nonce, self.fds = pid, pidfd, nonce, fds
        self.tmp_mb, self.strict, self.workdir = tmp_mb, strict, workdir


class Server:
    def __init__(self, cfg: dict[str, Any], cmd_fd: int, res_fd: int) -> None:
        self.cfg = cfg
        self.cmd_fd = cmd_fd
        self.res_fd = res_fd
        self.pid = os.getpid()
        self.uid: int | None = cfg.get("uid")
        self.gid: int | None = cfg.get("gid")
        self.ns_flags = 0
        self.userns = False
        self.policy: dict[str, bool] = {}   # steps the child must apply (strict after the probe)
        self.probe_info: dict[str, Any] = {}
        self.template: dict[str, Any] = {}
        self.spare: _Spare | None = None
        self.page_kb = os.sysconf("SC_PAGE_SIZE") // 1024

    # ---- the server's own namespaces: a template every run's mount namespace is copied from
    def prepare_template(self) -> None:
        """Once per server: enter private mount, network and UTS namespaces (in a user namespace
        when not root) and build the read-only, paths-hidden mount tree there. Each run then only
        needs new PID/mount/IPC namespaces (a cheap copy of this tree) plus its own /proc and
        /tmp, instead of a fresh network namespace and ~20 mounts per run."""
        t = self.template = {"ns": False, "net_namespace": False, "uts_namespace": False,
                             "hide_paths": False, "readonly_root": False, "hostname": False, "errors": []}
        if not self.cfg.get("namespaces", True):
            return
        want_userns = self.cfg.get("userns")
        flags = L.CLONE_NEWNS | L.CLONE_NEWNET | L.CLONE_NEWUTS
        try:
            if os.geteuid() != 0 or want_userns:
                raise PermissionError("not root (or user namespace requested)")
            L.unshare(flags)
        except OSError as e:
            if want_userns is False:
                t["errors"].append(f"server namespaces: {e}")
                return
            try:  # unprivileged: a user namespace of our own, mapping our uid to root inside
                L.enter_own_user_namespace(flags)
                self.userns = True
            except OSError as e2:
                t["errors"].append(f"server namespaces: {e}; user namespace: {e2}")
                return
        t.update(ns=True, net_namespace=True, uts_namespace=True)
        try:
            L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)  # nothing we mount reaches the host
        except OSError as e:
            t["errors"].append(f"make-private: {e}")
            t["ns"] = False
            return
        for name, fn in (("hide_paths", lambda: L.hide_paths(self.cfg.get("hide_paths", []),
                                                             self.cfg.get("expose_paths", []))),
                         ("readonly_root", lambda: L.remount_tree_readonly("/")),
                         ("hostname", lambda: L.sethostname("sandbox"))):
            try:
                r = fn()
                t[name] = r if r is not None else True
            except OSError as e:
                t["errors"].append(f"{name}: {e}")

    # ---- probing: find out once which per-run protections work here, then require them
    def probe(self) -> dict[str, Any]:
        tpl = self.template
        wanted = {
            "private_tmp": tpl["ns"], "private_proc": tpl["ns"],
            "uid_drop": self.uid is not None or self.userns,
            "no_new_privs": True,
            "seccomp": bool(self.cfg.get("seccomp", True)) and L.seccomp_supported(),
            "rlimit_cpu": True, "rlimit_as": True, "rlimit_fsize": True, "rlimit_nofile": True,
            "rlimit_nproc": True, "rlimit_core": True,
        }
        candidates: list[int] = []
        if tpl["ns"] and L.clone_supported():
            candidates.append(NS_RUN)
        candidates.append(0)
        errors: list[str] = list(tpl["errors"])
        for flags in candidates:
            self.ns_flags = flags
            pol = dict(wanted)
            if not flags:
                pol.update(private_tmp=False, private_proc=False)
            self.policy = dict(pol)
            try:
                res = self.run({"kind": "probe", "code": "", "stdin": "", "limits": self.cfg["probe_limits"]},
                               strict=False)
            except OSError as e:  # e.g. clone with namespace flags refused
                errors.append(f"ns={flags:#x}: {e}")
                continue
            setup = res.get("setup")
            if setup is None:
                errors.append(f"ns={flags:#x}: {res.get('message') or res['stderr'][-300:]}")
                continue
            applied = setup["applied"]
            # from now on a step that worked in the probe is mandatory for every run
            self.policy = {k: bool(v is True and pol.get(k)) for k, v in applied.items()}
            applied.update({k: tpl[k] is not False for k in ("hide_paths", "readonly_root", "hostname")},
                           mount_ns=tpl["ns"] and bool(flags & L.CLONE_NEWNS))
            observed = dict(setup.get("observed", {}))
            if isinstance(tpl["hide_paths"], list):
                observed["hide_paths"] = tpl["hide_paths"]
            self.probe_info = {"ns_flags": flags | (tpl["ns"] and (L.CLONE_NEWNET | L.CLONE_NEWUTS) or 0),
                               "userns": self.userns, "applied": applied, "observed": observed, "errors": errors}
            return self.probe_info
        self.probe_info = {"ns_flags": 0, "userns": False, "applied": {}, "observed": {}, "errors": errors,
                           "failed": True}
        return self.probe_info

    # ---- one run
    def run(self, job: dict[str, Any], strict: bool = True) -> dict[str, Any]:
        lim = job["limits"] = dict(job["limits"])
        if job["kind"] != "probe" and not self.policy.get("rlimit_as"):
            lim["rss_watch_kb"] = int(float(lim["memory_mb"]) * 1024)  # no RLIMIT_AS here: watch RSS
        sp = self._take_spare(int(lim["tmp_mb"]), strict)
        try:
            return self._run(job, sp)
        finally:
            if sp.workdir:
                import shutil  # fallback mode only: keep the server (and every fork of it) small
                shutil.rmtree(sp.workdir, ignore_errors=True)

    def prefork(self, tmp_mb: int) -> None:
        """Fork the next run's child now, off the critical path (called after each answer)."""
        if self.spare is None and self.policy:
            try:
                self.spare = self._spawn(tmp_mb, True)
            except OSError:
                self.spare = None

    def _take_spare(self, tmp_mb: int, strict: bool) -> _Spare:
        sp, self.spare = self.spare, None
        if sp is not None and (sp.tmp_mb != tmp_mb or sp.strict != strict):
            self._discard(sp)  # made for other mount options: start over
            sp = None
        return sp if sp is not None else self._spawn(tmp_mb, strict)

    def _discard(self, sp: _Spare) -> None:
        try:
            os.kill(sp.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for fd in list(sp.fds.values()) + [sp.pidfd]:
            if fd >= 0:
                os.close(fd)
        try:
            os.waitpid(sp.pid, 0)
        except ChildProcessError:
            pass
        if sp.workdir:
            import shutil
            shutil.rmtree(sp.workdir, ignore_errors=True)

    def _host_workdir(self) -> str:
        import tempfile
        base = self.cfg.get("workdir_base") or tempfile.gettempdir()
        d = tempfile.mkdtemp(prefix="atlas-sandbox-", dir=base)
        if self.uid is not None and self.policy.get("uid_drop"):
            os.chown(d, self.uid, self.gid if self.gid is not None else -1)
        return d

    def _spawn(self, tmp_mb: int, strict: bool) -> _Spare:
        workdir = None
        if not self.policy.get("private_tmp"):
            try:
                workdir = self._host_workdir()  # no private tmpfs: a fresh host directory instead
            except OSError:
                workdir = "/"  # read-only everywhere: the program gets no writable directory
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        rep_r, rep_w = os.pipe()
        go_r, go_w = os.pipe()    # lifeline: the child sees POLLHUP on it if the server is gone
        job_r, job_w = os.pipe()  # the job, when it comes
        nonce = os.urandom(16).hex()
        pid = L.fork_into(self.ns_flags)
        if pid == 0:  # ---- the child: never returns into the server loop
            try:
                for fd in (self.cmd_fd, self.res_fd, in_w, out_r, err_r, rep_r, go_w, job_w):
                    os.close(fd)
                if self.spare is not None:  # (never set while we spawn; belt and braces)
                    for fd in self.spare.fds.values():
                        os.close(fd)
                self._child(nonce, strict, tmp_mb, workdir, go_r, job_r, in_r, out_w, err_w, rep_w)
            except BaseException:  # noqa: BLE001 - a sandbox bug: say what, on whatever fd 2 is now
                try:
                    import traceback
                    os.write(2, ("atlas sandbox child: " + traceback.format_exc()).encode())
                except BaseException:
                    pass
            finally:
                os._exit(70)
        for fd in (in_r, out_w, err_w, rep_w, go_r, job_r):
            os.close(fd)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = -1
        fds = {"in": in_w, "out": out_r, "err": err_r, "rep": rep_r, "go": go_w, "job": job_w}
        return _Spare(pid, pidfd, nonce, fds, tmp_mb, strict, None if workdir == "/" else workdir)

    def _run(self, job: dict[str, Any], sp: _Spare) -> dict[str, Any]:
        lim = job["limits"]
        pid, pidfd, nonce = sp.pid, sp.pidfd, sp.nonce
        in_w, out_r, err_r, rep_r, go_w = (sp.fds[k] for k in ("in", "out", "err", "rep", "go"))
        stdin_data = job.get("stdin", "").encode("utf-8", "surrogateescape")
        t0 = time.monotonic()
        try:  # the child is blocked reading this; a big job just takes a few pipe-fuls
            W.write_msg(sp.fds["job"], job)
        except OSError:
            pass  # it died in its setup: its report pipe says why
        os.close(sp.fds["job"])

        out = _Tail(int(lim["output_bytes"]), keep_tail=False)
        err = _Tail(int(lim["output_bytes"]), keep_tail=True)
        rep = bytearray()
        killed: str | None = None
        deadline = t0 + float(lim["wall_s"])
        rss_cap = lim.get("rss_watch_kb")
        poller = select.poll()
        for fd in (out_r, err_r, rep_r):
            _set_nonblock(fd)
            poller.register(fd, select.POLLIN)
        open_fds = {out_r, err_r, rep_r}
        pos = 0
        if stdin_data:
            _set_nonblock(in_w)
            poller.register(in_w, select.POLLOUT)
        else:
            os.close(in_w)
            in_w = -1
        poller.register(self.cmd_fd, 0)  # only to notice POLLHUP: our parent died
        if pidfd >= 0:  # readable when the child exits: then stragglers (no pid namespace) get killed
            poller.register(pidfd, select.POLLIN)
        status: int | None = None
        ru: Any = None

        def reap_child(block: bool) -> None:
            nonlocal status, ru
            if status is None:
                try:
                    p, st, r = os.wait4(pid, 0 if block else os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere: exit status unknown
                    status, ru = -1, None
                    return
                if p:
                    status, ru = st, r
                    if not self.ns_flags & L.CLONE_NEWPID:
                        L.kill_descendants(self.pid)  # its daemons: nothing else takes them down

        def kill(reason: str) -> None:
            nonlocal killed, deadline
            if killed is None:
                killed = reason
            if status is None:  # not reaped yet, so the pid is still ours
                os.kill(pid, signal.SIGKILL)  # PID 1 of its namespace: every descendant dies too
            if not self.ns_flags & L.CLONE_NEWPID:
                L.kill_descendants(self.pid)
            deadline = time.monotonic() + KILL_GRACE_S

        while open_fds or status is None:
            now = time.monotonic()
            if now >= deadline:
                if killed is None:
                    kill("timeout")
                    continue
                break  # something keeps a pipe open after the kill: stop waiting for it
            tick = deadline - now
            if rss_cap or pidfd < 0:
                tick = min(tick, 0.02)
            for fd, ev in poller.poll(max(1, int(tick * 1000) + 1)):
                if fd == self.cmd_fd:
                    if ev & (select.POLLHUP | select.POLLERR):
                        kill("parent_gone")
                        poller.unregister(fd)
                    continue
                if fd == pidfd:
                    poller.unregister(fd)
                    reap_child(block=True)  # it has exited: this does not block
                    continue
                if fd == in_w:
                    try:
                        pos += os.write(in_w, stdin_data[pos:pos + READ_CHUNK])
                    except BlockingIOError:
                        continue
                    except OSError:  # EPIPE: the program stopped reading; fine
                        pos = len(stdin_data)
                    if pos >= len(stdin_data):
                        poller.unregister(in_w)
                        os.close(in_w)
                        in_w = -1
                    continue
                try:
                    data = os.read(fd, READ_CHUNK)
                except BlockingIOError:
                    continue
                if not data:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    os.close(fd)
                    continue
                if fd == rep_r:
                    if len(rep) + len(data) > REPORT_CAP:
                        kill("report_limit")
                    else:
                        rep += data
                    continue
                (out if fd == out_r else err).add(data)
                if fd == out_r and out.truncated and killed is None:
                    kill("output_limit")
            if pidfd < 0 and status is None:
                reap_child(block=False)
            if rss_cap and status is None and killed is None and L.rss_kb(pid, self.page_kb) > rss_cap:
                kill("rss")
            if not open_fds and status is None and pidfd < 0:
                time.sleep(0.001)
        for fd in list(open_fds) + [fd for fd in (in_w, go_w, pidfd) if fd >= 0]:
            os.close(fd)
        if status is None:
            if killed is None:
                kill("timeout")
            reap_child(block=True)
        if not self.ns_flags & L.CLONE_NEWPID:
            L.kill_descendants(self.pid)
        L.reap_all(block=True)  # anything re-parented to us (we are a child subreaper)
        wall = time.monotonic() - t0
        info: dict[str, Any] = {"status": status if status != -1 else None}
        if ru is not None:
            info.update(utime=ru.ru_utime, stime=ru.ru_stime, maxrss_kb=ru.ru_maxrss)
        return self._result(job, nonce, out, err, bytes(rep), info, killed, wall)

    def _result(self, job: dict[str, Any], nonce: str, out: _Tail, err: _Tail, rep: bytes,
                status_info: dict[str, Any], killed: str | None, wall: float) -> dict[str, Any]:
        lim = job["limits"]
        reports: list[dict[str, Any]] = []
        prefix = nonce.encode() + b" "
        for line in rep.split(b"\n"):
            if line.startswith(prefix):
                try:
                    reports.append(json.loads(line[len(prefix):]))
                except ValueError:
                    pass
        completed = any(r.get("ev") == "done" for r in reports)
        returncode: int | None = None
        sig: str | None = None
        ws = status_info.get("status")
        if ws is not None:
            if os.WIFEXITED(ws):
                returncode = os.WEXITSTATUS(ws)
            elif os.WIFSIGNALED(ws):
                returncode = -os.WTERMSIG(ws)
                sig = SIGNAMES.get(os.WTERMSIG(ws), str(os.WTERMSIG(ws)))
        cpu = float(status_info.get("utime", 0.0)) + float(status_info.get("stime", 0.0))
        stderr_text = err.text()
        message = ""
        ev_names = {r.get("ev") for r in reports}
        setup_failed = next((r for r in reports if r.get("ev") == "setup_failed"), None)
        if killed == "parent_gone":
            status, message = "sandbox_error", "the calling process went away"
        elif setup_failed is not None:
            status, message = "sandbox_error", f"sandbox setup failed: {setup_failed.get('step')}: {setup_failed.get('error')}"
        elif "error" in status_info:
            status, message = "sandbox_error", status_info["error"]
        elif returncode in (70, 72) and not reports and killed is None:
            status, message = "sandbox_error", f"sandbox child failed before the program started (exit {returncode})"
        elif killed == "output_limit":
            status, message = "output_limit", f"stdout exceeded {lim['output_bytes']} bytes"
        elif killed == "report_limit":
            status, message = "runtime_error", "the program flooded the sandbox's report channel"
        elif killed == "timeout":
            status, message = "timeout", f"wall time limit exceeded ({float(lim['wall_s']):g}s)"
        elif killed == "rss":
            status, message = "memory_exceeded", f"resident memory exceeded {lim['memory_mb']} MB"
        elif "compile_error" in ev_names:
            status = "compile_error"
            message = next(r for r in reports if r.get("ev") == "compile_error").get("msg", "")
        elif "memory" in ev_names or _looks_like_oom(stderr_text):
            status, message = "memory_exceeded", f"out of memory (address-space limit {lim['memory_mb']} MB)"
        elif sig == "SIGKILL" and cpu >= float(lim["cpu_s"]) - 0.05:
            status, message = "timeout", f"CPU time limit exceeded ({float(lim['cpu_s']):g}s)"
        elif sig == "SIGKILL":
            status, message = "memory_exceeded", "killed by SIGKILL without a sandbox timeout (out of memory?)"
        elif completed and returncode == 0:
            status = "ok"
        else:
            status = "runtime_error"
            exc = next((r for r in reports if r.get("ev") in ("exception", "load_error")), None)
            if exc is not None:
                message = exc.get("msg", "")
            elif sig:
                message = f"killed by {sig}"
            elif returncode == 0:
                message = "exited with status 0 before completing (no success sentinel: os._exit/exit before the end?)"
            else:
                message = f"exit status {returncode}"
        return {
            "status": status, "returncode": returncode, "signal": sig,
            "stdout": out.text(), "stderr": stderr_text,
            "stdout_truncated": out.truncated, "stderr_truncated": err.truncated,
            "completed": completed, "wall_s": round(wall, 6), "cpu_s": round(cpu, 6),
            "max_rss_mb": round(float(status_info.get("maxrss_kb", 0)) / 1024, 3),
            "message": message, "reports": [r for r in reports if r.get("ev") != "setup"],
            "setup": next((r for r in reports if r.get("ev") == "setup"), None) if job["kind"] == "probe" else None,
        }

    # ---- the child
    def _child(self, nonce: str, strict: bool, tmp_mb: int, workdir: str | None, go_r: int, job_r: int,
               in_r: int, out_w: int, err_w: int, rep_w: int) -> NoReturn:
        L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)
        lifeline = select.poll()
        lifeline.register(go_r, select.POLLIN)
        if lifeline.poll(0):  # the server died before PDEATHSIG was armed
            os._exit(72)
        try:
            os.setsid()
        except OSError:
            pass
        # keep only stdio, the report pipe (REPORT_FD), the lifeline and the job pipe (next to it);
        # park the latter on high fds first so no dup2 below can clobber them
        tmp = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 1000) for fd in (rep_w, go_r, job_r)]
        os.dup2(in_r, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for i, fd in enumerate(tmp):
            os.dup2(fd, REPORT_FD + i, inheritable=False)
        go_fd, job_fd = REPORT_FD + 1, REPORT_FD + 2
        os.closerange(3, REPORT_FD)
        os.closerange(REPORT_FD + 3, 65536)
        rep = H.Reporter(REPORT_FD, nonce)
        applied, observed = self._setup(strict, rep, tmp_mb, workdir)
        # the kernel clears PDEATHSIG when the uid changes: arm it again, then check the lifeline
        L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)
        lifeline = select.poll()
        lifeline.register(go_fd, select.POLLIN)
        if lifeline.poll(0):
            os._exit(72)
        os.close(go_fd)
        g = H.fresh_main()
        job = W.read_msg(job_fd)  # ---- here the child waits until it is given its run
        if job is None:  # discarded unused
            os._exit(0)
        os.close(job_fd)
        self._set_limits(job, strict, rep, applied)
        if job["kind"] == "probe":
            observed.update(L.observe_confinement())
            rep.send({"ev": "setup", "applied": applied, "observed": observed})
            rep.send({"ev": "done"})
            os._exit(0)
        H.DRIVERS[job["kind"]](rep, job, g)

    def _step(self, name: str, fn: Any, strict: bool, rep: Any, applied: dict[str, Any],
              observed: dict[str, Any]) -> None:
        """Apply one protection. In the probe (strict=False) a failure is recorded; afterwards a
        step the probe found working must work, or the run is aborted as a sandbox_error."""
        if not self.policy.get(name):
            applied[name] = False
            return
        try:
            r = fn()
            applied[name] = True
            if r is not None:
                observed[name] = r
        except BaseException as e:  # noqa: BLE001
            applied[name] = f"{type(e).__name__}: {e}"
            if strict:
                rep.send({"ev": "setup_failed", "step": name, "error": applied[name]})
                os._exit(71)

    def _setup(self, strict: bool, rep: Any, tmp_mb: int, workdir: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Before the job: /proc, /tmp, uid, no_new_privs, seccomp (all need no job data)."""
        applied: dict[str, Any] = {}
        observed: dict[str, Any] = {}

        def step(name: str, fn: Any) -> None:
            self._step(name, fn, strict, rep, applied, observed)

        uid = self.uid if self.uid is not None else os.getuid()
        gid = self.gid if self.gid is not None else os.getgid()
        step("private_proc", lambda: L.mount("proc", "/proc", "proc", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC))
        owner = f"uid={uid},gid={gid}" if not self.userns else "uid=0,gid=0"
        step("private_tmp", lambda: L.mount_private_tmp(f"size={tmp_mb}m,nr_inodes=4096,mode=0700,{owner}"))
        wd = "/tmp" if applied.get("private_tmp") is True else workdir or "/tmp"
        try:
            os.chdir(wd)
        except OSError:
            os.chdir("/")

        def drop() -> str:
            mode = f"uid {uid}"
            if self.userns:
                L.drop_in_nested_userns()
                L.drop_all_capabilities()
                mode = f"nested user namespace (uid {L.NESTED_UID})"
            else:
                try:
                    os.setgroups([])
                    os.setresgid(gid, gid, gid)
                    # root -> non-root: the kernel clears effective/permitted/ambient capabilities;
                    # the bounding set only matters for execve, which no_new_privs already covers
                    os.setresuid(uid, uid, uid)
                except OSError:
                    if os.getuid() != 0:
                        raise
                    # 'root' of a user namespace someone else made, where our uid is unmapped
                    L.drop_in_nested_userns()
                    L.drop_all_capabilities()
                    mode = f"nested user namespace (uid {L.NESTED_UID})"
            if not strict:  # the probe verifies; later runs trust the same syscalls
                if os.getuid() == 0 or os.geteuid() == 0:
                    raise OSError("still root")
                with open("/proc/self/status") as f:
                    if any(line.startswith("CapEff:") and int(line.split()[1], 16) for line in f):
                        raise OSError("capabilities left")
            return mode
        step("uid_drop", drop)
        step("no_new_privs", lambda: L.prctl(L.PR_SET_NO_NEW_PRIVS, 1))
        step("seccomp", L.install_seccomp_denylist)
        if wd != "/tmp":  # the server's environment already is the child's, with HOME=/tmp
            os.environ["HOME"] = os.environ["TMPDIR"] = wd
        observed["uid"] = os.getuid()
        return applied, observed

    def _set_limits(self, job: dict[str, Any], strict: bool, rep: Any, applied: dict[str, Any]) -> None:
        """At the job: rlimits (lowering needs no privilege, so they can come after the uid drop)."""
        lim = job["limits"]
        observed: dict[str, Any] = {}
        mb = 1024 * 1024

        def rl(res: int, value: int | float) -> None:
            v = int(value)
            hard = resource.getrlimit(res)[1]
            if hard != resource.RLIM_INFINITY and v > hard:
                v = hard
            resource.setrlimit(res, (v, v))

        def step(name: str, fn: Any) -> None:
            self._step(name, fn, strict, rep, applied, observed)

        cpu = max(1, int(-(-float(lim["cpu_s"]) // 1)))  # ceil; soft == hard: SIGKILL at the limit
        step("rlimit_cpu", lambda: rl(resource.RLIMIT_CPU, cpu))
        step("rlimit_fsize", lambda: rl(resource.RLIMIT_FSIZE, float(lim["file_size_mb"]) * mb))
        step("rlimit_nofile", lambda: rl(resource.RLIMIT_NOFILE, int(lim["open_files"])))
        step("rlimit_core", lambda: rl(resource.RLIMIT_CORE, 0))
        if lim.get("stack_mb"):
            try:
                rl(resource.RLIMIT_STACK, float(lim["stack_mb"]) * mb)
            except (OSError, ValueError):
                pass
        if not lim.get("rss_watch_kb"):
            step("rlimit_as", lambda: rl(resource.RLIMIT_AS, float(lim["memory_mb"]) * mb))
        else:
            applied["rlimit_as"] = False
        step("rlimit_nproc", lambda: rl(resource.RLIMIT_NPROC, int(lim["max_processes"])))


def _looks_like_oom(stderr: str) -> bool:
    tail = stderr[-4000:]
    return any(s in tail for s in ("\nMemoryError", "MemoryError:", "Cannot allocate memory", "std::bad_alloc",
                                   "out of memory", "Unable to allocate")) or tail.rstrip().endswith("MemoryError")


def main() -> None:
    cfg = json.loads(sys.argv[1])
    # move the protocol pipes off fds 0/1, so a run's stdio can never alias them
    cmd_fd, res_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C in the notebook is not for us
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    L.prctl(L.PR_SET_CHILD_SUBREAPER, 1)           # orphans of a run come back to us to be reaped
    # the children's environment, set once here (a run only changes HOME/TMPDIR in fallback mode)
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL") if k in os.environ}
    os.environ.clear()
    os.environ.update(env, HOME="/tmp", TMPDIR="/tmp", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
                      PYTHONIOENCODING="utf-8", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    for m in H.PRELOAD_MODULES:                    # light stdlib only: shared copy-on-write by every run
        try:
            __import__(m)
        except ImportError:
            pass
    H.prepare_server_interpreter(list(cfg.get("python_path", [])))
    if L.seccomp_supported():
        L.prebuild_seccomp()
    server = Server(cfg, cmd_fd, res_fd)
    server.prepare_template()
    gc.collect()
    gc.freeze()  # keep the collector from touching (and so copying) the server's objects in every child
    info = server.probe()
    tmp_mb = int(cfg["probe_limits"]["tmp_mb"])
    server.prefork(tmp_mb)
    W.write_msg(res_fd, {"op": "hello", "pid": os.getpid(), "probe": info, "euid": os.geteuid()})
    while True:
        try:
            msg = W.read_msg(cmd_fd)
        except OSError as e:
            if e.errno == errno.EINTR:
                continue
            break
        if msg is None:
            break
        if msg.get("op") == "run":
            try:
                res = server.run(msg)
            except BaseException as e:  # noqa: BLE001 - answer, never die silently
                res = {"status": "sandbox_error", "message": f"fork server: {type(e).__name__}: {e}"}
            W.write_msg(res_fd, res)
            tmp_mb = int(msg.get("limits", {}).get("tmp_mb", tmp_mb))
            server.prefork(tmp_mb)  # the next run's child gets ready while the caller reads this answer
        elif msg.get("op") == "ping":
            W.write_msg(res_fd, {"op": "pong", "spare": server.spare.pid if server.spare else None})


if __name__ == "__main__":
    main()
