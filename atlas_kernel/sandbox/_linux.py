"""Linux confinement for the fork server: thin ctypes wrappers for the calls it needs, and the
steps built from them (entering user namespaces, private /tmp, hiding host directories, the
uid drop into a nested user namespace, what a probe child can verify, process-tree control).

Python 3.11 has no ``os.unshare``/``mount``/``prctl``, so we call libc directly.
Stdlib only: this module is loaded by path into the fork server, which runs with
``-S`` and must not import anything from the atlas_kernel package.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import resource
import signal
import struct
import time
from typing import Any

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

# clone/unshare flags (include/uapi/linux/sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
ALL_NS_FLAGS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET

# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18

# prctl options
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.syscall.restype = ctypes.c_long


def _check(ret: int, what: str) -> None:
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731 - tiny local helper
    _check(_libc.mount(enc(source), target.encode(), enc(fstype), flags, enc(data)), f"mount {target}")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> None:
    _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


# ------------------------------------------------- fork into namespaces -----
# os.fork() plus namespace flags in the same clone(2): the child is created directly
# as PID 1 of a new pid namespace, so no intermediate process (one fork fewer per run).
# CPython's own before/after-fork hooks are called around it, exactly as os.fork does;
# the syscall goes through PyDLL so the GIL stays held across it, as in os.fork.
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(platform.machine())
_SIGCHLD = 17
_pylibc = ctypes.PyDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_pylibc.syscall.restype = ctypes.c_long


def clone_supported() -> bool:
    return _SYS_CLONE is not None


def fork_into(flags: int) -> int:
    """fork() that also unshares `flags` namespaces for the child. Returns 0 in the child."""
    if not flags:
        return os.fork()
    if _SYS_CLONE is None:
        raise OSError(errno.ENOSYS, f"raw clone not supported on {platform.machine()}")
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = _pylibc.syscall(ctypes.c_long(_SYS_CLONE), ctypes.c_ulong(flags | _SIGCHLD), ctypes.c_void_p(0),
                          ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_ulong(0))
    err = ctypes.get_errno()
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone({flags:#x}): {os.strerror(err)}")
    return int(pid)


PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _cap_last() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63


_CAP_LAST = _cap_last()


def drop_bounding_capabilities() -> None:
    for cap in range(_CAP_LAST + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows (EPERM: no CAP_SETPCAP, fine)
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def drop_all_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable capability sets."""
    drop_bounding_capabilities()
    hdr = ctypes.create_string_buffer(struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0), 8)
    data = ctypes.create_string_buffer(bytes(24), 24)  # two __user_cap_data_struct, all zero
    _check(_libc.capset(hdr, data), "capset")


def sethostname(name: str) -> None:
    b = name.encode()
    _check(_libc.sethostname(b, len(b)), "sethostname")


# mount_setattr(2) (Linux >= 5.12) makes a whole mount tree read-only in one call;
# the syscall number is the same on every architecture (unified table).
_SYS_MOUNT_SETATTR = 442
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4


def mount_setattr_recursive(path: str, attr_set: int) -> None:
    attr = struct.pack("QQQQ", attr_set, 0, 0, 0)  # struct mount_attr
    buf = ctypes.create_string_buffer(attr, len(attr))
    ret = _libc.syscall(
        ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(_AT_FDCWD), ctypes.c_char_p(path.encode()),
        ctypes.c_uint(_AT_RECURSIVE), buf, ctypes.c_size_t(len(attr)),
    )
    _check(0 if ret == 0 else -1, f"mount_setattr {path}")


def remount_tree_readonly(root: str = "/") -> None:
    """Make every mount read-only (and nosuid/nodev) in this mount namespace.

    Prefers one recursive mount_setattr; on older kernels falls back to a bind
    remount of each mount point listed in /proc/self/mountinfo.
    """
    try:
        mount_setattr_recursive(root, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
        return
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EINVAL, errno.EPERM):
            raise
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted(set(points), key=len):
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
        try:
            mount(None, p, None, flags)
        except OSError:
            # locked flags (e.g. noexec) must be kept: retry preserving them
            st = os.statvfs(p)
            mount(None, p, None, flags | (st.f_flag & (MS_NOEXEC)))


# ---------------------------------------------------------------- seccomp ----
# A small deny-list filter: the program keeps every ordinary syscall (fork,
# threads, files, pipes) but may not create namespaces (no nested user
# namespace to play root in), mount, ptrace, load BPF, use io_uring, etc.
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_DENY = {
    "x86_64": {
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
        "ptrace": 101, "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321,
        "perf_event_open": 298, "userfaultfd": 323, "open_by_handle_at": 304, "kexec_load": 246,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "reboot": 169, "swapon": 167,
        "swapoff": 168, "acct": 163, "quotactl": 179, "syslog": 103, "process_vm_writev": 311,
    },
    "aarch64": {
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
        "ptrace": 117, "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280,
        "perf_event_open": 241, "userfaultfd": 282, "open_by_handle_at": 265, "kexec_load": 104,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "reboot": 142, "swapon": 224,
        "swapoff": 225, "acct": 89, "quotactl": 60, "syslog": 116, "process_vm_writev": 271,
    },
}
# same numbers on every arch (unified table, Linux >= 5.1)
_DENY_COMMON = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428,
                "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
                "mount_setattr": 442}
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_LD_ABS_W, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06


def seccomp_supported() -> bool:
    return platform.machine() in _DENY


_SECCOMP_PROG: bytes | None = None


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def prebuild_seccomp() -> None:
    """Build the filter program once (in the server) so each child only installs it."""
    global _SECCOMP_PROG
    _SECCOMP_PROG = _build_seccomp_program()


def install_seccomp_denylist() -> None:
    """Install the deny-list filter on the calling thread (needs no_new_privs first)."""
    global _SECCOMP_PROG
    if _SECCOMP_PROG is None:
        _SECCOMP_PROG = _build_seccomp_program()
    prog = _SECCOMP_PROG
    filt = ctypes.create_string_buffer(prog, len(prog))
    fprog = _SockFprog(len(prog) // 8, ctypes.cast(filt, ctypes.c_void_p))
    ret = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0)
    _check(ret, "seccomp")


def _build_seccomp_program() -> bytes:
    arch = platform.machine()
    if arch not in _DENY:
        raise OSError(errno.ENOSYS, f"no seccomp table for {arch}")
    ins: list[tuple[int, int, int, int]] = []
    deny_eperm = _RET_ERRNO | errno.EPERM
    nrs = sorted(set(_DENY[arch].values()) | set(_DENY_COMMON.values()))
    ins.append((_LD_ABS_W, 0, 0, 4))                                   # A = arch
    ins.append((_JEQ, 1, 0, _AUDIT_ARCH[arch]))
    ins.append((_RET, 0, 0, deny_eperm))                               # foreign ABI: refuse
    ins.append((_LD_ABS_W, 0, 0, 0))                                   # A = syscall nr
    if arch == "x86_64":                                               # x32 ABI numbers: refuse
        ins.append((_JGE, 0, 1, 0x40000000))
        ins.append((_RET, 0, 0, deny_eperm))
    ins.append((_JEQ, 0, 1, _CLONE3))                                  # clone3 args are in memory:
    ins.append((_RET, 0, 0, _RET_ERRNO | errno.ENOSYS))                # libc then falls back to clone
    for nr in nrs:
        ins.append((_JEQ, 0, 1, nr))
        ins.append((_RET, 0, 0, deny_eperm))
    ins.append((_JEQ, 0, 3, _CLONE[arch]))                             # clone: no namespace flags
    ins.append((_LD_ABS_W, 0, 0, 16))                                  # low word of args[0]
    ins.append((_JSET, 0, 1, ALL_NS_FLAGS))
    ins.append((_RET, 0, 0, deny_eperm))
    ins.append((_RET, 0, 0, _RET_ALLOW))
    return b"".join(struct.pack("HBBI", *i) for i in ins)


# ------------------------------------------------------------- confinement steps

def children_of(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2] in "ZX"
    except (OSError, ValueError, IndexError):
        return True  # gone


def kill_descendants(root: int) -> None:
    """Fallback without a pid namespace: SIGKILL the whole subtree below `root`, repeatedly,
    until only zombies are left (orphans re-parent to us, the subreaper, so they stay in the
    tree). Reaping is left to the caller, which may want a child's exit status."""
    for _ in range(500):
        stack, live = [root], []
        while stack:
            for c in children_of(stack.pop()):
                stack.append(c)
                if not is_zombie(c):
                    live.append(c)
        if not live:
            return
        for p in live:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.001)


def reap_all(block: bool) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# host directories never covered by hide_paths
SYSTEM_DIRS = {"/", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/proc", "/sys",
               "/dev", "/tmp", "/var"}

NESTED_UID = 1000


def enter_own_user_namespace(flags: int) -> None:
    """Unprivileged: unshare `flags` inside a new user namespace of our own, our uid mapped to
    root in it (so the mounts that follow are allowed)."""
    uid, gid = os.getuid(), os.getgid()
    unshare(flags | CLONE_NEWUSER)
    for name, text in (("uid_map", f"0 {uid} 1"), ("setgroups", "deny"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def drop_in_nested_userns() -> None:
    """User-namespace mode (not root): only one uid is mapped, so we are 'root' inside our
    namespaces. Enter a nested user namespace in which we are an ordinary uid: it owns none of
    our mount/pid/net namespaces, so no capability there lets the program undo the setup."""
    unshare(CLONE_NEWUSER)
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{NESTED_UID} 0 1")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{NESTED_UID} 0 1")
    os.setresgid(NESTED_UID, NESTED_UID, NESTED_UID)
    os.setresuid(NESTED_UID, NESTED_UID, NESTED_UID)


def mount_private_tmp(opts: str) -> None:
    try:
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        # the run's uid is not mapped here (a user namespace we did not set up): sticky 1777 instead
        opts = ",".join(o for o in opts.split(",") if not o.startswith(("uid=", "gid=", "mode="))) + ",mode=1777"
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts)
    for d, size in (("/dev/shm", 16), ("/var/tmp", 16)):
        if os.path.isdir(d):
            mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}m,nr_inodes=1024,mode=1777")


def hide_paths(hide: list[str], expose: list[str]) -> list[str]:
    """Cover each directory in `hide` with an empty tmpfs, re-binding the `expose` paths below it
    (e.g. the Python installation under /root). Returns the paths hidden."""
    done: list[str] = []
    expose = sorted({os.path.realpath(p) for p in expose if os.path.exists(p)})
    for h in sorted({os.path.realpath(p) for p in hide}, key=len):
        if h in SYSTEM_DIRS or not os.path.isdir(h) or any(h == d or h.startswith(d + "/") for d in done):
            continue
        if any(e == h or h.startswith(e + "/") for e in expose):
            continue  # hiding it would hide something the interpreter needs
        inner = [e for e in expose if e.startswith(h + "/")]
        # keep the exposed trees reachable through O_PATH fds while we cover their parent
        fds = [(e, os.open(e, os.O_PATH | os.O_CLOEXEC)) for e in inner]
        mount("tmpfs", h, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=512,mode=0755")
        for e, fd in fds:
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(e, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(e), exist_ok=True)
                open(e, "w").close()
            mount(f"/proc/self/fd/{fd}", e, None, MS_BIND | MS_REC)
            os.close(fd)
        done.append(h)
    return done


def observe_confinement() -> dict[str, Any]:
    """What the probe child can verify from the inside."""
    import socket
    obs: dict[str, Any] = {"pid": os.getpid()}
    try:
        obs["interfaces"] = sorted(n for _, n in socket.if_nameindex())
    except OSError as e:
        obs["interfaces"] = f"error: {e}"
    try:
        obs["root_readonly"] = bool(os.statvfs("/").f_flag & os.ST_RDONLY)
    except OSError:
        obs["root_readonly"] = False
    try:
        obs["procs_visible"] = len([d for d in os.listdir("/proc") if d.isdigit()])
    except OSError:
        obs["procs_visible"] = -1
    try:
        with open("/proc/self/status") as f:
            st = dict(line.split(":", 1) for line in f if ":" in line)
        obs["seccomp_mode"] = int(st.get("Seccomp", "0").strip())
        obs["no_new_privs"] = int(st.get("NoNewPrivs", "0").strip())
    except (OSError, ValueError):
        pass
    obs["tmp_dev_differs"] = _dev("/tmp") != _dev("/")
    obs["env_keys"] = sorted(os.environ)
    obs["rlimits"] = {n: resource.getrlimit(getattr(resource, n))[0] for n in
                      ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE")}
    return obs


def rss_kb(pid: int, page_kb: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * page_kb
    except (OSError, ValueError, IndexError):
        return 0


def _dev(p: str) -> int:
    try:
        return os.stat(p).st_dev
    except OSError:
        return -1
