"""Layer 1 behaviour: running programs, results, parallelism, protections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from atlas_kernel.sandbox import Job, Limits, RunResult, Sandbox

QUICK = Limits(timeout_s=5)


@pytest.fixture(scope="module")
def sb():
    with Sandbox(2) as s:
        yield s


def test_stdin_to_stdout(sb):
    r = sb.run("print(input()[::-1])", "abc\n", QUICK)
    assert (r.status, r.stdout, r.completed, r.returncode) == ("ok", "cba\n", True, 0)


def test_result_is_json_serialisable(sb):
    r = sb.run("print('hi')", limits=QUICK)
    d = json.loads(json.dumps(r.to_dict()))
    assert RunResult.from_dict(d) == r


def test_runtime_error_carries_last_line_and_traceback(sb):
    r = sb.run("def f():\n    return 1 / 0\nf()\n", limits=QUICK)
    assert r.status == "runtime_error" and r.message == "ZeroDivisionError: division by zero"
    assert 'File "<solution>", line 2, in f' in r.stderr and "return 1 / 0" in r.stderr


def test_syntax_error_is_compile_error(sb):
    r = sb.run("def f(:\n    pass\n", limits=QUICK)
    assert r.status == "compile_error" and "SyntaxError" in r.message


def test_exit_codes(sb):
    assert sb.run("import sys\nprint(1)\nsys.exit(0)", limits=QUICK).status == "ok"
    assert sb.run("exit()", limits=QUICK).status == "ok"  # site's exit() exists although the server runs -S
    r = sb.run("import sys\nsys.exit(3)", limits=QUICK)
    assert (r.status, r.returncode, r.completed) == ("runtime_error", 3, False)


def test_os_exit_zero_is_not_completed(sb):
    r = sb.run("import os\nprint('x', flush=True)\nos._exit(0)", limits=QUICK)
    assert r.returncode == 0 and not r.completed and r.status == "runtime_error"


def test_each_run_is_a_fresh_process(sb):
    if sb.protections()["pid_namespace"] is not True:
        pytest.skip("needs PID and mount namespaces")
    code = ("import os, random\nprint(os.getpid(), os.path.exists('/tmp/mark'), random.random())\n"
            "open('/tmp/mark', 'w').write('x')\n")
    a, b = sb.run(code, limits=QUICK).stdout.split(), sb.run(code, limits=QUICK).stdout.split()
    assert a[:2] == b[:2] == ["1", "False"]  # PID 1 of a new namespace, a fresh /tmp
    assert a[2] != b[2]  # the random module is re-seeded in every child


def test_non_utf8_output_is_replaced(sb):
    r = sb.run("import sys\nsys.stdout.buffer.write(b'ok\\xff\\n')", limits=QUICK)
    assert r.status == "ok" and r.stdout == "ok\ufffd\n"


def test_large_stdin(sb):
    data = "x" * (4 << 20) + "\n"
    r = sb.run("import sys\nprint(len(sys.stdin.read()))", data, QUICK)
    assert r.stdout == f"{len(data)}\n"


def test_threads_and_subprocesses_work(sb):
    code = ("import subprocess, sys, threading\nt = threading.Thread(target=print, args=('thread',))\n"
            "t.start(); t.join()\nprint(subprocess.run([sys.executable, '-c', 'print(6*7)'], capture_output=True,"
            " text=True).stdout.strip())\n")
    r = sb.run(code, limits=QUICK)
    assert (r.status, r.stdout) == ("ok", "thread\n42\n")


def test_run_many_keeps_order_and_runs_in_parallel(sb):
    t0 = time.monotonic()
    rs = sb.run_many([Job("import time\ntime.sleep(0.6)\nprint(0)", "", QUICK), "print(1)",
                      ("print(input())", "2\n"), {"code": "import time\ntime.sleep(0.6)\nprint(3)"}], limits=QUICK)
    assert [r.stdout for r in rs] == ["0\n", "1\n", "2\n", "3\n"]
    assert time.monotonic() - t0 < 1.15  # two 0.6 s sleeps on two workers overlap


def test_limits_validate():
    with pytest.raises(ValueError):
        Limits(timeout_s=0)
    assert Limits(timeout_s=2).effective_cpu_s == 3.0


def test_protections_report_everything_active_as_root(sb):
    p = sb.protections()
    if os.geteuid() != 0:
        pytest.skip("the full set needs root (or user namespaces)")
    for key in ("pid_namespace", "net_namespace", "mount_namespace", "ipc_namespace", "private_proc",
                "readonly_host_fs", "private_tmp_workdir", "no_new_privs", "seccomp", "rlimit_cpu", "rlimit_as",
                "rlimit_fsize", "rlimit_nofile", "rlimit_nproc", "env_scrubbed", "success_sentinel"):
        assert p[key] is True, key
    assert str(p["uid_drop"]).startswith("yes") and "/root" in str(p["hidden_paths"])


def test_inside_view_matches_protections(sb):
    if os.geteuid() != 0:
        pytest.skip("the full set needs root")
    code = ("import os, resource\nst = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
            "print(os.getuid(), len([p for p in os.listdir('/proc') if p.isdigit()]), st['Seccomp'].strip(),"
            " st['CapEff'].strip(), resource.getrlimit(resource.RLIMIT_AS)[0] >> 20)\n")
    uid, nproc, seccomp, capeff, as_mb = sb.run(code, limits=Limits(timeout_s=5, memory_mb=300)).stdout.split()
    assert int(uid) in sb.sandbox_uids() and nproc == "1" and seccomp == "2" and int(capeff, 16) == 0
    assert as_mb == "300"


def test_import_is_fast_and_light():
    code = ("import sys, time\nt = time.perf_counter()\nimport atlas_kernel.sandbox\n"
            "print(time.perf_counter() - t, 'torch' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))).stdout.split()
    assert float(out[0]) < 0.5 and out[1:] == ["False", "False"]


def test_closed_sandbox_refuses_and_leaves_nothing():
    s = Sandbox(1)
    pids = s.server_pids()
    assert s.run("print(1)", limits=QUICK).ok
    s.close()
    with pytest.raises(RuntimeError):
        s.run("print(1)")
    time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)
