"""Sandbox for untrusted, model-generated Python code: run a program in isolation with limits.

`Sandbox.run(code, stdin, limits) -> RunResult`, `Sandbox.run_many(jobs)`. The test runners
and verdicts built on it live in `atlas_kernel.judging`.

How a program runs
------------------
`Sandbox` starts one small *fork server* per worker slot (``python -s -S -P -B``, no
site-packages, a scrubbed environment, no inherited file descriptors, nothing of the caller
imported: no model, no CUDA context, no secrets; only light stdlib modules preloaded). The
server enters its own mount, network and UTS namespaces once and prepares the read-only mount
tree there. For every run it clones a fresh child (never a fork of the calling notebook/CLI
process) into new PID, mount and IPC namespaces; it forks the next run's child as soon as it
has answered, so the setup below is off the critical path - each child still runs exactly one
program. Before any user code runs, the child:

* becomes PID 1 of its own PID namespace, so killing it kills every descendant, including
  ones that called ``setsid`` or double-forked; the server kills it on wall timeout, on a
  stdout flood, or if the calling process goes away (and it has PDEATHSIG=SIGKILL);
* sits in a network namespace with only a downed loopback: no network at all, not even to
  services listening on the host's 127.0.0.1 (abstract unix sockets are per namespace too);
  the runs of one worker slot share it, one after the other, never at the same time;
* gets a mount namespace in which the whole host filesystem is read-only, private host
  directories are covered by empty tmpfs mounts (/root, /home, /run, /opt, /mnt, /srv,
  /var/lib, /var/log, ... and the top directory of the project and the caller's cwd, where
  hidden tests may live) with only the Python installation re-exposed read-only, a fresh
  /proc showing only the run's own processes, and a private size-limited tmpfs on /tmp
  (the working directory and HOME), /dev/shm and /var/tmp, discarded with the namespace;
* drops to an unprivileged uid/gid, distinct per worker slot (so RLIMIT_NPROC counts only
  that run's processes), with no supplementary groups, no_new_privs, and a seccomp deny-list
  (no namespaces/user namespaces, mount, ptrace, bpf, io_uring, keyctl, perf, module loading);
* gets rlimits when its job arrives: CPU seconds, address space, file size, open files,
  processes, core=0;
* gets a scrubbed environment (PATH, LANG/LC_ALL=C.UTF-8, HOME=TMPDIR=/tmp,
  PYTHONHASHSEED=0 for reproducible runs, single-threaded BLAS hints) - nothing of the caller's.

A run *passes* only if the harness writes the success sentinel - a line carrying a random
per-run nonce on a dedicated pipe - after the program (or the checks) finished, so
``sys.exit(0)``/``os._exit(0)`` before the checks is never a pass, and printing to stdout
cannot fake one. The server reaps everything before answering: no orphan or zombie survives
a run. Every protection is probed when the server starts; `Sandbox.protections()` reports what
is actually in force, and a step that worked in the probe is mandatory for every later run
(failure aborts that run as "sandbox_error" instead of running it with less isolation). If
the OS refuses something (no root and no user namespaces, a container without mount rights,
RLIMIT_AS refused) the sandbox falls back - process-tree kill instead of a PID namespace, a
host temp dir instead of the tmpfs, an RSS watchdog instead of RLIMIT_AS - and says so there.

What it does NOT stop (it is not a VM)
--------------------------------------
* Kernel exploits: the program shares the host kernel (seccomp narrows, does not remove, the
  attack surface). Hostile code written to escape needs a VM (gVisor, Firecracker).
* Total memory: RLIMIT_AS bounds each process, so a run may use up to about
  max_processes x memory_mb plus its tmpfs sizes; no cgroup limit is set.
* Reading world-readable host files outside the hidden directories (/usr, /etc, the
  Python installation ...) and world-readable files of the exposed Python tree.
* CPU-time fairness beyond RLIMIT_CPU and the wall limit; disk I/O bandwidth.
* A program that inspects the harness's memory in its own process (gc, frames) can find the
  nonce and the tests' expected values: the sentinel defeats premature exits and spoofed
  output, not deliberate reverse engineering of the same-process harness (no same-process
  harness can). The same holds for LiveCodeBench and HumanEval.
* Unix-domain sockets on the host are hidden only where their directory is (/run, /tmp, ...).

Importing this package is cheap: no process starts before the first `Sandbox()` /
`get_sandbox()`.
"""

from atlas_kernel._lazy import lazy_exports

__all__ = [
    "Sandbox", "Job", "get_sandbox", "close_default_sandbox", "Limits", "RunResult", "RunStatus",
]

# public name -> submodule holding it (the test runners and output comparison live in judging/)
_EXPORTS = {
    "Sandbox": "sandbox", "Job": "sandbox", "get_sandbox": "sandbox", "close_default_sandbox": "sandbox",
    "Limits": "limits", "RunResult": "result", "RunStatus": "result",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
