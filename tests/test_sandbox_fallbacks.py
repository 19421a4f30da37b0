"""The sandbox degrades cleanly, and says so, when protections are unavailable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from atlas_kernel.sandbox import Limits, Sandbox

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DETACHED = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(60)\n        os._exit(0)\n    os._exit(0)\nos.wait()\nprint('parent done')\n")


def test_without_namespaces_runs_are_still_contained():
    with Sandbox(1, namespaces=False) as sb:
        p = sb.protections()
        assert p["pid_namespace"] is False and p["kill_scope"].startswith("process tree")
        assert str(p["private_tmp_workdir"]).startswith("no")
        r = sb.run("import os\nprint(os.getcwd())", limits=Limits(timeout_s=5))
        workdir = r.stdout.strip()
        assert r.status == "ok" and workdir.startswith("/") and not os.path.exists(workdir)  # removed afterwards
        t0 = time.monotonic()
        r = sb.run(DETACHED, limits=Limits(timeout_s=5))
        assert r.status == "ok" and time.monotonic() - t0 < 3
        assert sb.leftover_processes() == []
        r = sb.run("import os\nif os.fork() == 0:\n    os.setsid()\nwhile True:\n    pass\n", limits=Limits(timeout_s=1))
        assert r.status == "timeout" and sb.leftover_processes() == []


def test_forced_user_namespace_path():
    with Sandbox(1, userns=True) as sb:
        p = sb.protections()
        assert p["user_namespace"] is True and p["pid_namespace"] is True
        r = sb.run("import os\nprint(os.getuid(), os.getpid(), [l for l in open('/proc/self/status') if "
                   "l.startswith('CapEff')][0].split()[1])", limits=Limits(timeout_s=5))
        assert r.status == "ok"
        uid, pid, capeff = r.stdout.split()
        assert uid != "0" and pid == "1" and int(capeff, 16) == 0
        assert sb.run(DETACHED, limits=Limits(timeout_s=5)).status == "ok"
        assert sb.leftover_processes() == []


def test_no_uid_drop_and_no_seccomp_are_reported():
    with Sandbox(1, drop_uid=False, seccomp=False) as sb:
        p = sb.protections()
        assert p["uid_drop"] is False and p["seccomp"] is False
        assert sb.run("print(1)", limits=Limits(timeout_s=5)).stdout == "1\n"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_inside_a_user_namespace_uid_drop_falls_back():
    """As 'root' of a user namespace, other uids are unmapped: the drop falls back to a nested
    user namespace, says so, and runs still work."""
    code = ("import json\nfrom atlas_kernel.sandbox import Sandbox, Limits\nwith Sandbox(1) as sb:\n"
            "    print(json.dumps([sb.protections(), sb.run('print(7)', limits=Limits(timeout_s=5)).stdout]))\n")
    proc = subprocess.run(["unshare", "--user", "--map-root-user", sys.executable, "-c", code], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 and "unshare failed" in proc.stderr:
        pytest.skip(f"user namespaces unavailable: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    prot, out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == "7\n"
    assert "nested user namespace" in prot["uid_drop"] and prot["pid_namespace"] is True
