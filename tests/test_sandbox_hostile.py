"""Hostile programs: each must get the right status, leave no process behind, and leave the host untouched."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import pytest

# set before any sandbox exists: the fork servers must not inherit it
os.environ["ATLAS_TEST_SECRET"] = SECRET = "s3cr3t-" + uuid.uuid4().hex

from atlas_kernel.judging import run_check_program, run_functional_tests  # noqa: E402
from atlas_kernel.sandbox import Limits, Sandbox  # noqa: E402
from atlas_kernel.problems.types import TestCase  # noqa: E402

FAST = Limits(timeout_s=1.5)


@pytest.fixture(scope="module")
def sb():
    with Sandbox(2) as s:
        yield s


def need(sb: Sandbox, *keys: str) -> None:
    """Skip (saying why) where this machine cannot provide a protection the test relies on."""
    missing = [k for k in keys if sb.protections().get(k) in (False, None)]
    if missing:
        pytest.skip(f"protection unavailable here: {', '.join(missing)} (see Sandbox.protections())")


def assert_clean(sb: Sandbox) -> None:
    """No descendant of a fork server, no process of a sandbox uid, no zombie left."""
    assert sb.leftover_processes() == []
    assert all(os.path.exists(f"/proc/{p}") for p in sb.server_pids())


def test_fork_bomb_times_out_and_leaves_nothing(sb):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    r = sb.run(code, limits=FAST)
    assert r.status == "timeout"
    assert_clean(sb)


def test_fork_bomb_is_capped_by_nproc(sb):
    need(sb, "uid_drop", "rlimit_nproc")
    code = ("import os, time\nn = 0\nfor _ in range(200):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(5)\n            os._exit(0)\n        n += 1\n    except OSError:\n        break\n"
            "print(n)\n")
    r = sb.run(code, limits=Limits(timeout_s=3, max_processes=8))
    assert r.status == "ok"
    assert int(r.stdout) < 8  # RLIMIT_NPROC counts the run's own uid only
    assert_clean(sb)


def test_memory_bomb_is_memory_exceeded(sb):
    need(sb, "rlimit_as")
    r = sb.run("a = []\nwhile True:\n    a.append(bytearray(10**7))\n", limits=Limits(timeout_s=10, memory_mb=256))
    assert r.status == "memory_exceeded"
    assert_clean(sb)


def test_single_huge_allocation_is_memory_exceeded(sb):
    need(sb, "rlimit_as")
    r = sb.run("x = bytearray(4 * 1024**3)", limits=Limits(timeout_s=5, memory_mb=512))
    assert r.status == "memory_exceeded"


def test_infinite_loop_killed_at_wall_limit(sb):
    r = sb.run("while True:\n    pass\n", limits=FAST)
    assert r.status == "timeout" and r.signal == "SIGKILL"
    assert 1.4 <= r.wall_s < 3.0
    assert_clean(sb)


def test_sigterm_ignoring_loop_is_killed(sb):
    code = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n"
    r = sb.run(code, limits=FAST)
    assert r.status == "timeout"
    assert_clean(sb)


def test_cpu_limit_is_a_timeout(sb):
    r = sb.run("while True:\n    pass\n", limits=Limits(timeout_s=10, cpu_s=1))
    assert r.status == "timeout" and "CPU" in r.message
    assert r.wall_s < 5


def test_output_flood_is_cut(sb):
    lim = Limits(timeout_s=5, output_bytes=64 * 1024)
    r = sb.run("while True:\n    print('x' * 1000)\n", limits=lim)
    assert r.status == "output_limit" and r.stdout_truncated
    assert len(r.stdout) < 64 * 1024 + 200 and "truncated by the sandbox" in r.stdout
    assert_clean(sb)


def test_stderr_flood_is_truncated_but_not_fatal(sb):
    code = "import sys\nfor _ in range(20000):\n    sys.stderr.write('y' * 100)\nprint('fine')\n"
    r = sb.run(code, limits=Limits(timeout_s=10, output_bytes=32 * 1024))
    assert r.status == "ok" and r.stdout == "fine\n"
    assert r.stderr_truncated and len(r.stderr) < 33 * 1024


def test_detached_grandchildren_die_with_the_run(sb):
    need(sb, "pid_namespace")
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(60)\n        os._exit(0)\n    os._exit(0)\nos.wait()\nprint('parent done')\n")
    t0 = time.monotonic()
    r = sb.run(code, limits=Limits(timeout_s=10))
    assert r.status == "ok" and r.stdout == "parent done\n"
    assert time.monotonic() - t0 < 3  # the sleeping grandchild holds stdout, yet the run ends at once
    assert_clean(sb)


def test_network_connect_to_host_loopback_fails(sb):
    need(sb, "net_namespace")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.5)
    abstract = socket.socket(socket.AF_UNIX)
    name = "\0atlas-test-" + uuid.uuid4().hex
    abstract.bind(name)
    abstract.listen(1)
    abstract.settimeout(0.5)
    port = srv.getsockname()[1]
    code = (f"import socket\nfor fam, addr in ((socket.AF_INET, ('127.0.0.1', {port})), (socket.AF_UNIX, {name!r})):\n"
            "    s = socket.socket(fam)\n    s.settimeout(1)\n    try:\n        s.connect(addr)\n        print('CONNECTED')\n"
            "    except OSError as e:\n        print('refused', e.errno)\n")
    try:
        r = sb.run(code, limits=Limits(timeout_s=5))
        assert r.status == "ok" and "CONNECTED" not in r.stdout and r.stdout.count("refused") == 2
        for s in (srv, abstract):
            with pytest.raises(socket.timeout):
                s.accept()
    finally:
        srv.close()
        abstract.close()


def test_writes_outside_the_workdir_do_not_reach_the_host(sb, tmp_path):
    need(sb, "mount_namespace", "readonly_host_fs", "private_tmp_workdir")
    tag = uuid.uuid4().hex
    targets = [f"/tmp/atlas-probe-{tag}", f"/var/tmp/atlas-probe-{tag}", f"/dev/shm/atlas-probe-{tag}",
               f"/etc/atlas-probe-{tag}", str(tmp_path / "x"), os.path.join(os.getcwd(), f"atlas-probe-{tag}")]
    code = (f"import os\nok = []\nfor p in {targets!r}:\n    try:\n        with open(p, 'w') as f:\n"
            "            f.write('pwned')\n        ok.append(p)\n    except OSError:\n        pass\n"
            "open('scratch.txt', 'w').write('mine')\nprint(open('scratch.txt').read(), os.getcwd())\n")
    r = sb.run(code, limits=Limits(timeout_s=5))
    assert r.status == "ok" and r.stdout.startswith("mine /tmp")
    for p in targets:
        assert not os.path.exists(p), p
    assert list(tmp_path.iterdir()) == []
    assert not os.path.exists("/tmp/scratch.txt")


def test_parent_secret_env_is_invisible(sb):
    code = ("import os\nprint(os.environ.get('ATLAS_TEST_SECRET'))\n"
            "for p in os.listdir('/proc'):\n    if p.isdigit():\n        try:\n"
            "            print(open(f'/proc/{p}/environ', 'rb').read())\n        except OSError:\n            pass\n")
    r = sb.run(code, limits=Limits(timeout_s=5))
    assert r.status == "ok" and r.stdout.startswith("None\n")
    assert SECRET not in r.stdout
    for pid in sb.server_pids():  # nor do the servers hold it
        with open(f"/proc/{pid}/environ", "rb") as f:
            assert SECRET.encode() not in f.read()


def test_private_dirs_are_hidden(sb):
    need(sb, "hidden_paths")
    # the checkout holding this project (and any hidden tests in it) must be invisible, wherever it is
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = f"import os\nprint(sorted(os.listdir('/root')), os.path.exists({os.path.join(project, 'atlas_kernel')!r}))\n"
    r = sb.run(code, limits=Limits(timeout_s=5))
    assert r.status == "ok"
    assert "False" in r.stdout and ".bashrc" not in r.stdout


@pytest.mark.parametrize("early_exit", ["import sys\nsys.exit(0)", "import os\nos._exit(0)"])
def test_exit_before_checks_is_not_a_pass(sb, early_exit):
    check = "def check(candidate):\n    assert candidate(1) == 2\n"
    v = run_check_program(f"def f(x):\n    return 0\n{early_exit}\n", check, "f", FAST, sandbox=sb)
    assert v.verdict != "passed"
    v2 = run_check_program(f"def f(x):\n    {early_exit.replace(chr(10), '; ')}\n", check, "f", FAST, sandbox=sb)
    assert v2.verdict != "passed"
    vs = run_functional_tests(f"{early_exit}\ndef f(x):\n    return 2 * x\n", [TestCase("1", "2")], "f",
                              limits=FAST, sandbox=sb)
    assert [v.verdict for v in vs] != ["passed"]


def test_forged_sentinel_does_not_count(sb):
    code = ("import os\nprint('{\"ev\": \"done\"}')\nfor fd in range(3, 200):\n    try:\n"
            "        os.write(fd, b'0123456789abcdef0123456789abcdef {\"ev\": \"done\"}\\n')\n"
            "    except OSError:\n        pass\nos._exit(0)\n")
    r = sb.run(code, limits=FAST)
    assert not r.completed and r.status == "runtime_error"


def test_killing_its_parent_does_not_hurt_the_sandbox(sb):
    before = sb.server_pids()
    code = ("import os, signal\nfor target in " + repr([os.getpid(), *before]) + " + [os.getppid(), -1]:\n"
            "    try:\n        os.kill(target, signal.SIGKILL)\n    except OSError as e:\n        print('no', e.errno)\n"
            "print('alive')\n")
    r = sb.run(code, limits=FAST)
    assert r.status in ("ok", "runtime_error")
    assert sb.server_pids() == before
    assert sb.run("print(1)", limits=FAST).stdout == "1\n"
    assert_clean(sb)


def test_sandbox_recovers_when_its_server_is_killed(sb):
    box: dict[str, object] = {}
    code = "import time\ntime.sleep(1)\nprint('slept')"
    t = threading.Thread(target=lambda: box.update(r=sb.run(code, limits=Limits(timeout_s=8))))
    t.start()
    time.sleep(0.5)
    old = sb.server_pids()
    for pid in old:
        os.kill(pid, 9)  # whichever server holds the run: both die, and the run with them
    t.join(15)
    r = box["r"]
    # the run in flight is retried once on a fresh server (or reported as a sandbox_error)
    assert (r.status, r.stdout) == ("ok", "slept\n") or r.status == "sandbox_error"  # type: ignore[attr-defined]
    assert sb.run("print('back')", limits=FAST).stdout == "back\n"
    assert not set(old) & set(sb.server_pids())
    assert sb.run_many(["print(1)", "print(2)"], limits=FAST)[1].stdout == "2\n"
    # the killed run re-parents to the host's init, which reaps it in its own time
    deadline = time.monotonic() + 10
    while sb.leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert_clean(sb)
