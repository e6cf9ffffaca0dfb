"""30 — configuration and start-up failures: a config file (`name = value`,
`#` comments, blank lines) starts the daemon and the command line overrides
it; a bad file or command line exits 2 with one line on stderr naming the
option, and starts nothing; --help and --version exit 0; a second daemon on
the same runtime directory and a listener that cannot bind exit 1."""
import asyncio
import os
import re
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import (LOGDIR, ZWSD, Daemon, assert_usable, chat, check_chat,
                      connect_on_distinct_workers, free_port, recv_json, run, ws_connect)

RUN_WAIT = 3.0     # a usage error exits at once; a started daemon runs on


# --------------------------------------------------------------------------
# helpers

def session_procs(sid):
    """Live processes of session `sid` (every zwsd run here gets its own)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        rest = raw[raw.rindex(")") + 2:].split()
        if int(rest[3]) == sid and rest[0] != "Z":
            out.append((int(name), raw[raw.index("(") + 1:raw.rindex(")")]))
    return out


def listening(port):
    """Does anything accept TCP connections on 127.0.0.1:port?"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def run_zwsd(args, env=None):
    """Run zwsd to its exit (it must exit by itself within RUN_WAIT); returns
    (rc, stdout, stderr lines, processes of its session left behind)."""
    p = subprocess.Popen([ZWSD] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True, env=env)
    try:
        out, err = p.communicate(timeout=RUN_WAIT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        deadline = time.monotonic() + RUN_WAIT
        while session_procs(p.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        raise AssertionError(f"zwsd {args} still running after {RUN_WAIT} s (it started)")
    return p.returncode, out.decode(), err.decode().splitlines(), session_procs(p.pid)


def assert_usage_error(args, option, port, rtdir):
    """Exit 2, exactly one line on stderr and it names `option`, nothing on
    stdout, no process, no listener, no runtime directory."""
    rc, out, err, left = run_zwsd(args)
    assert rc == 2, f"{args}: exit {rc}, expected 2; stderr {err}"
    assert len(err) == 1, f"{args}: expected one line on stderr, got {err}"
    assert option in err[0], f"{args}: the error does not name {option!r}: {err[0]!r}"
    assert out == "", f"{args}: stdout {out!r}"
    assert left == [], f"{args}: processes left behind: {left}"
    assert not listening(port), f"{args}: something listens on {port}"
    assert not os.path.exists(rtdir), f"{args}: the runtime directory was created"


@pytest.fixture
def tmp(request):
    d = tempfile.mkdtemp(prefix="zwcfg", dir="/tmp")
    yield d
    subprocess.run(["rm", "-rf", d], check=False)


def log_path(request, n=0):
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    return os.path.join(LOGDIR, safe + (f".{n}" if n else "") + ".log")


class ConfigDaemon(Daemon):
    """zwsd started with --config FILE alone (plus `extra` flags): the file
    holds listen, workers, runtime-dir and api-listen."""

    def __init__(self, conf, file_workers=2, extra=(), cli_port=False, **kw):
        super().__init__(**kw)
        self.conf = conf
        self.file_workers = file_workers
        self.cli_args = list(extra)
        self.cli_port = cli_port        # --listen on the command line, the file another port
        self.file_port = None

    def argv(self):
        self.file_port = free_port() if self.cli_port else self.port
        with open(self.conf, "w") as f:
            f.write(f"""# zwsd test configuration

listen = 127.0.0.1:{self.file_port}
   workers=   {self.file_workers}   # trailing comment
runtime-dir = {self.tmpdir}
api-listen = off
# verbose = 0
verbose = 1

max-groups = 5
""")
        args = [ZWSD, "--config", self.conf] + self.cli_args
        if self.cli_port:
            args += ["--listen", f"127.0.0.1:{self.port}"]
        return args


async def chat_both_ways(d):
    (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(d, ["alice", "bob"])
    await alice.send(chat("bob", "hi", id="a1"))
    got, ack = await asyncio.gather(recv_json(bob), recv_json(alice))
    mid = check_chat(got, "alice", "bob", "hi")
    assert ack == {"type": "ack", "id": "a1", "mid": mid, "status": "delivered"}, ack
    await assert_usable(bob, "bob", "bob-ok")


# --------------------------------------------------------------------------
# the file works, the command line wins

def test_config_file_starts_the_daemon(request, tmp, own_daemons):
    d = ConfigDaemon(os.path.join(tmp, "zwsd.conf"), log_path=log_path(request))
    own_daemons.append(d)
    d.start()
    assert len(d.worker_pids()) == 2
    # runtime-dir from the file: its lock file names the supervisor
    with open(os.path.join(d.tmpdir, "zwsd.pid")) as f:
        assert f.read().strip() == str(d.proc.pid)
    # verbose = 1 from the file: debug lines (<7>) are logged
    d.wait_log(r"^<7>", timeout=1)
    run(chat_both_ways(d))


def test_command_line_overrides_file(request, tmp, own_daemons):
    """The file says 2 workers on port A; --workers 1 --listen B win."""
    d = ConfigDaemon(os.path.join(tmp, "zwsd.conf"), extra=["--workers", "1"], cli_port=True,
                     workers=1, log_path=log_path(request))
    own_daemons.append(d)
    d.start()
    assert len(d.worker_pids()) == 1, d.children()
    assert d.file_port != d.port
    assert not listening(d.file_port), "the file's listen address is used too"

    async def body():
        alice, _ = await ws_connect(d, "alice")
        await assert_usable(alice, "alice", "cli-port")
    run(body())


# --------------------------------------------------------------------------
# errors: exit 2, one line, nothing started

BAD_FILES = [
    ("unknown option", "colour = blue\n", "colour"),
    ("workers = 0", "workers = 0\n", "workers"),
    ("max-message = abc", "max-message = abc\n", "max-message"),
    ("sessions = maybe", "sessions = maybe\n", "sessions"),
    ("missing value", "max-groups =\n", "max-groups"),
    ("config in a config", "config = /etc/passwd\n", "config"),
    ("flag with a bad boolean", "allow-client-broadcast = perhaps\n", "allow-client-broadcast"),
]


@pytest.mark.parametrize("content,option", [(c, o) for _, c, o in BAD_FILES],
                         ids=[n for n, _, _ in BAD_FILES])
def test_bad_config_file_exits_2(tmp, content, option):
    port = free_port()
    rtdir = os.path.join(tmp, "run")
    conf = os.path.join(tmp, "zwsd.conf")
    with open(conf, "w") as f:
        # valid lines first: the bad one is not the first line parsed
        f.write(f"# test\nlisten = 127.0.0.1:{port}\n\nruntime-dir = {rtdir}\n"
                f"api-listen = off\n{content}workers = 2\n")
    assert_usage_error(["--config", conf], option, port, rtdir)


def test_missing_config_file_exits_2(tmp):
    port = free_port()
    rtdir = os.path.join(tmp, "run")
    missing = os.path.join(tmp, "nope.conf")
    assert_usage_error(["--config", missing, "--listen", f"127.0.0.1:{port}",
                        "--runtime-dir", rtdir, "--api-listen", "off"], "config", port, rtdir)
    rc, out, err, _ = run_zwsd(["--config", missing])
    assert missing in err[0], f"the error does not name the file: {err}"


@pytest.mark.parametrize("listen,api", [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"),
                                         ("127.0.0.1", "0.0.0.0")])
def test_listen_and_api_on_one_port_exits_2(tmp, listen, api):
    """SO_REUSEPORT would let the WebSocket and API listeners share a port,
    each connection going to either: refused at start instead."""
    port = free_port()
    rtdir = os.path.join(tmp, "run")
    assert_usage_error(["--listen", f"{listen}:{port}", "--api-listen", f"{api}:{port}",
                        "--runtime-dir", rtdir], "api-listen", port, rtdir)


BAD_FLAGS = [
    ("unknown flag", ["--colour", "blue"], "colour"),
    ("bad workers", ["--workers", "0"], "workers"),
    ("workers not a number", ["--workers", "two"], "workers"),
    ("bad max-message", ["--max-message", "abc"], "max-message"),
    ("max-message too small", ["--max-message", "63"], "max-message"),
    ("bad sessions", ["--sessions", "maybe"], "sessions"),
    ("bad listen", ["--api-listen", "nowhere"], "api-listen"),
    ("bad broker", ["--broker", "tcp://127.0.0.1:1"], "broker"),
    ("relative runtime-dir", ["--runtime-dir", "relative/dir"], "runtime-dir"),
    ("missing value", ["--max-groups"], "max-groups"),
    ("stray argument", ["extra"], "extra"),
]


@pytest.mark.parametrize("args,option", [(a, o) for _, a, o in BAD_FLAGS],
                         ids=[n for n, _, _ in BAD_FLAGS])
def test_bad_command_line_exits_2(tmp, args, option):
    port = free_port()
    rtdir = os.path.join(tmp, "run")
    base = ["--listen", f"127.0.0.1:{port}", "--runtime-dir", rtdir, "--api-listen", "off"]
    if option == "runtime-dir":
        base = base[:2] + base[4:]
    if option == "api-listen":
        base = base[:4]
    assert_usage_error(base + args, option, port, rtdir)


def test_command_line_error_wins_over_good_file(tmp):
    port = free_port()
    rtdir = os.path.join(tmp, "run")
    conf = os.path.join(tmp, "zwsd.conf")
    with open(conf, "w") as f:
        f.write(f"listen = 127.0.0.1:{port}\nruntime-dir = {rtdir}\napi-listen = off\n")
    assert_usage_error(["--config", conf, "--rate-limit", "-5"], "rate-limit", port, rtdir)


def test_bad_file_value_is_an_error_even_when_the_flag_overrides_it(tmp):
    """`workers = 0` in the file is a config error; --workers 2 on the command
    line overrides the value but does not make the file valid (it would fail
    as soon as the flag is dropped, e.g. from ZWSD_OPTS)."""
    port = free_port()
    rtdir = os.path.join(tmp, "run")
    conf = os.path.join(tmp, "zwsd.conf")
    with open(conf, "w") as f:
        f.write(f"listen = 127.0.0.1:{port}\nruntime-dir = {rtdir}\napi-listen = off\n"
                f"workers = 0\n")
    assert_usage_error(["--config", conf, "--workers", "2"], "workers", port, rtdir)


def test_help_and_version_exit_0(tmp):
    for flag in ("--help", "-h"):
        rc, out, err, left = run_zwsd([flag])
        assert rc == 0 and err == [] and left == [], (flag, rc, err, left)
        assert re.search(r"(?m)^usage: zwsd\b", out), out
        assert "--listen" in out and "--config" in out, out
    rc, out, err, left = run_zwsd(["--version"])
    assert rc == 0 and err == [] and left == [], (rc, err, left)
    assert re.fullmatch(r"zwsd \S+\n", out), repr(out)


# --------------------------------------------------------------------------
# runtime failures: exit 1

def test_second_daemon_on_same_runtime_dir_exits_1(make_daemon):
    d = make_daemon()
    port = free_port()
    rc, out, err, left = run_zwsd(["--listen", f"127.0.0.1:{port}", "--workers", "1",
                                   "--runtime-dir", d.tmpdir, "--api-listen", "off"])
    assert rc == 1, f"second daemon exited {rc}: {err}"
    errors = [line for line in err if line.startswith("<3>")]
    assert len(errors) == 1, f"expected one error line: {err}"
    assert "zwsd.pid" in errors[0] and str(d.proc.pid) in errors[0], \
        f"the error does not name the lock file and its holder: {errors[0]!r}"
    assert left == [], f"processes left behind: {left}"
    assert not listening(port)
    # the first daemon lost nothing: lock, embedded broker sockets, routing
    with open(os.path.join(d.tmpdir, "zwsd.pid")) as f:
        assert f.read().strip() == str(d.proc.pid)
    assert os.path.exists(os.path.join(d.tmpdir, "pub"))
    run(chat_both_ways(d))


@pytest.mark.parametrize("which", ["listen", "api-listen"])
def test_listen_address_in_use_exits_1(tmp, which):
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    try:
        other = free_port()
        addrs = {"listen": other, "api-listen": other}
        addrs[which] = busy
        rtdir = os.path.join(tmp, "run")
        rc, out, err, left = run_zwsd(["--listen", f"127.0.0.1:{addrs['listen']}",
                                       "--api-listen", f"127.0.0.1:{addrs['api-listen']}",
                                       "--workers", "2", "--runtime-dir", rtdir])
        assert rc == 1, f"exit {rc}: {err}"
        errors = [line for line in err if re.match(r"^<[0-3]>", line)]
        assert len(errors) == 1, f"expected one error line: {err}"
        assert f"127.0.0.1:{busy}" in errors[0], f"the error does not name the address: {errors}"
        assert left == [], f"processes left behind: {left}"
        assert not listening(other), "the other listener stayed open"
    finally:
        holder.close()
