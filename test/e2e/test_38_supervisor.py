"""38 — the supervisor's promises (operations.md; issue 14):

- a child that exits 2 (a configuration error only it can see: an
  --api-key-file that became unusable before a worker restarted) is not
  respawned: one error line, the rest stops gracefully, zwsd exits 2;
- SIGHUP: the supervisor reads the config file once and sends the result to
  every worker; a worker never reads it (a SIGHUP sent to a worker changes
  nothing); each worker applies a reload exactly once, and a worker started
  after it (respawn, SIGUSR2 rotation) runs with the new settings;
- children hold no fd they do not own (fork without exec): no runtime lock,
  no status socket but their own, no other slot's listeners; so after
  kill -9 of the supervisor a new zwsd on the same runtime directory starts
  at once, even while orphans are still draining;
- config-file syntax errors (overlong line, NUL byte, missing '=') exit 2
  with one line naming the file, the line and the option;
- --bus-hwm (and `bus-hwm =`) sets the broker's and the workers' bus queues;
  bad values exit 2; a change on reload is logged as needing a restart."""
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import (LOGDIR, STOP_WAIT, WAIT, ZWSD, Daemon, chat, check_chat,
                      connect_on_distinct_workers, free_port, parse_http, place, proc_stat,
                      raw_http, raw_ws, recv_json, recv_n, run, wait_closed, ws_connect)

STARTED_WORKER = re.compile(r"^<7>zwsd\[\d+\]: started worker (\d+) \(pid (\d+)\)")
WORKER_RELOADED = re.compile(r"^<\d>zwsd-worker\[(\d+)\]: (?:.*\s)?reloaded: max-message (\d+)")
ROTATED = re.compile(r"^<\d>zwsd\[\d+\]: .*worker (\d+) \(pid (\d+)\) listens; old worker "
                     r"\(pid (\d+)\)")


def write_conf(path, text):
    tmp = str(path) + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, str(path))


def alive(pid, start):
    st = proc_stat(pid)
    return st is not None and st[3] == start and st[1] != "Z"


def await_gone(kids, timeout):
    """kids: {pid: starttime}. Poll /proc until none is alive (a process that
    is not our child sends no event)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p, s in kids.items() if alive(p, s)]
        if not left:
            return
        assert time.monotonic() < deadline, f"still alive after {timeout} s: {left}"
        time.sleep(0.02)


def padded_chat(receiver, size, id):
    """A valid JSON chat frame of exactly `size` bytes."""
    base = {"type": "chat", "receiver": receiver, "msg": "", "id": id}
    pad = size - len(json.dumps(base, separators=(",", ":")))
    assert pad >= 0
    text = json.dumps(dict(base, msg="x" * pad), separators=(",", ":"))
    assert len(text.encode()) == size
    return text


async def sized_chat_ok(ws, user, size, tag):
    """A `size`-byte chat to oneself on ws comes back with `delivered`."""
    await ws.send(padded_chat(user, size, tag))
    frames = await recv_n(ws, 2)
    kinds = sorted(f.get("type") for f in frames)
    assert kinds == ["ack", "chat"], f"{size} bytes: {[f.get('type') for f in frames]}"
    ack = next(f for f in frames if f["type"] == "ack")
    assert ack.get("id") == tag and ack.get("status") == "delivered", ack


async def sized_chat_too_large(ws, user, size, tag):
    await ws.send(padded_chat(user, size, tag))
    code = await wait_closed(ws)
    assert code == 1009, f"{size} bytes: closed with {code}, expected 1009"


async def limit_on_worker(d, pid, limit, user):
    """The worker `pid` runs with --max-message `limit`: a new connection on
    it may send `limit` bytes, and one more closes it with 1009."""
    ws, _ = await place(d, user, pid)
    await sized_chat_ok(ws, user, limit, f"{user}-at")
    await sized_chat_too_large(ws, user, limit + 1, f"{user}-over")


# --------------------------------------------------------------------------
# A. exit 2: not respawned

def test_child_exit_2_is_not_respawned(make_daemon, tmp_path):
    """The key file is fine at start; then it is emptied and a worker dies.
    Its successor finds the key unusable and exits 2: the supervisor logs
    one error line, does not respawn it, stops the rest gracefully and
    exits 2."""
    key = tmp_path / "api-key"
    key.write_text("s3cret\n")
    d = make_daemon("--api-listen", f"127.0.0.1:{free_port()}", "--api-key-file", str(key))
    mark = d.mark()
    key.write_text("")
    victim = d.worker_pids()[0]
    d.stopped = True                        # an exit of its own is expected
    os.kill(victim, signal.SIGKILL)
    try:
        rc = d.proc.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError("zwsd still running after a child exited 2:\n" + d.log_tail(30))
    d.wait_log(r"^<6>zwsd\[\d+\]: stopped$", timeout=WAIT, start=mark)
    assert rc == 2, f"zwsd exited {rc}, expected 2\n" + d.log_tail(30)
    started = [l for l in d.lines if STARTED_WORKER.search(l)]
    assert len(started) == 3, f"2 workers, 1 respawn, then no more: {started}"
    errors = [l for l in d.lines[mark:] if l.startswith("<3>zwsd[")]
    assert len(errors) == 1 and "status 2" in errors[0], \
        f"expected one supervisor error line about exit 2: {errors}"
    worker_errors = [l for l in d.lines[mark:] if l.startswith("<3>zwsd-worker[")]
    assert any("api-key-file" in l for l in worker_errors), worker_errors
    after = d.lines[d.lines.index(errors[0]):]
    assert not any(l.endswith("; respawning") for l in after), "respawned after the exit 2"
    assert any(re.search(r"worker 1 \(pid \d+\) exited$", l) for l in after), \
        "the other worker was not stopped gracefully"


# --------------------------------------------------------------------------
# B. SIGHUP: read once, sent to every worker

def worker_reloads(d, start):
    """{worker pid: [max-message values]} of reloaded lines since start."""
    got = {}
    for line in d.lines[start:]:
        m = WORKER_RELOADED.search(line)
        if m:
            got.setdefault(int(m.group(1)), []).append(int(m.group(2)))
    return got


def test_reload_reaches_every_worker_exactly_once(make_daemon, tmp_path):
    conf = tmp_path / "zwsd.conf"
    write_conf(conf, "max-message = 1000\n")
    d = make_daemon("--config", str(conf), workers=3)
    workers = d.worker_pids()
    write_conf(conf, "max-message = 4000\n")

    # a worker does not read the config file: its own SIGHUP changes nothing
    async def direct_sighup():
        ws, _ = await place(d, "alice", workers[0])
        mark = d.mark()
        os.kill(workers[0], signal.SIGHUP)
        # a round trip through that worker: it has read its signals since
        await sized_chat_ok(ws, "alice", 1000, "after-hup")
        assert worker_reloads(d, mark) == {}, "a worker reloaded on its own SIGHUP"
        await sized_chat_too_large(ws, "alice", 1001, "still-1000")
    run(direct_sighup())
    assert proc_stat(workers[0]) and d.worker_pids() == workers

    mark = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"^<6>zwsd\[\d+\]: reloaded ", timeout=WAIT, start=mark)
    seen, i = set(), mark
    while seen != set(workers):
        line = d.wait_log(WORKER_RELOADED, timeout=WAIT, start=i)
        seen.add(int(line.match.group(1)))
        i = line.index + 1

    async def each_worker_applies():
        for i, pid in enumerate(workers):
            await limit_on_worker(d, pid, 4000, f"u{i}")
    run(each_worker_applies())
    # every worker ran loop turns since (the round trips): a second copy of
    # the reload would be in the log by now
    assert worker_reloads(d, mark) == {pid: [4000] for pid in workers}, worker_reloads(d, mark)

    # a worker started after the reload runs with the new settings
    mark = d.mark()
    os.kill(workers[1], signal.SIGKILL)
    new = d.wait_new_worker(set(workers), mark)
    run(limit_on_worker(d, new, 4000, "respawned"))

    mark = d.mark()
    d.proc.send_signal(signal.SIGUSR2)
    d.wait_log(r"^<6>zwsd\[\d+\]: rotation done", timeout=WAIT, start=mark)
    rotated = d.worker_pids()
    assert not set(rotated) & (set(workers) | {new}), (workers, new, rotated)

    async def new_generation():
        for i, pid in enumerate(rotated):
            await limit_on_worker(d, pid, 4000, f"gen{i}")
    run(new_generation())
    assert worker_reloads(d, mark) == {}, "a new worker reloaded without a SIGHUP"


def test_reload_keeps_a_command_line_key_file_that_went_bad(make_daemon, tmp_path):
    """--api-key-file given on the command line, then emptied, then SIGHUP:
    the reload is refused (an invalid setting), never applied with the
    option dropped, which would turn the API key off."""
    key = tmp_path / "api-key"
    key.write_text("s3cret\n")
    api = free_port()
    d = make_daemon("--api-listen", f"127.0.0.1:{api}", "--api-key-file", str(key))
    workers = d.worker_pids()
    mark = d.mark()
    key.write_text("")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"^<4>zwsd\[\d+\]: reload: .*nothing changed", timeout=WAIT, start=mark)
    # each worker's once-a-second look at the key file has seen it since
    for pid in workers:
        d.wait_log(rf"^<4>zwsd-worker\[{pid}\]: api: cannot read key file", timeout=WAIT,
                   start=mark)
    assert not [l for l in d.lines[mark:] if "no longer configured" in l
                or WORKER_RELOADED.search(l)], "the reload dropped the key file"
    for _ in range(4):
        status, _, _ = parse_http(raw_http(api, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                                b"Connection: close\r\n\r\n"))
        assert status == 401, f"GET /healthz without the key: {status}"


# --------------------------------------------------------------------------
# C. file descriptors of the children

def fd_links(pid):
    out = {}
    base = f"/proc/{pid}/fd"
    for fd in os.listdir(base):
        try:
            out[int(fd)] = os.readlink(os.path.join(base, fd))
        except OSError:
            pass
    return out


def socket_inodes(pid):
    return {int(m.group(1)) for v in fd_links(pid).values()
            if (m := re.fullmatch(r"socket:\[(\d+)\]", v))}


def seqpacket_inodes():
    """Inodes of every AF_UNIX SOCK_SEQPACKET socket (the status pairs)."""
    out = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            cols = line.split()
            if len(cols) >= 7 and int(cols[4], 16) == 5:
                out.add(int(cols[6]))
    return out


def listen_inodes(port):
    """Inodes of the TCP sockets listening on `port`."""
    out = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        out.add(int(cols[9]))
        except FileNotFoundError:
            pass
    return out


def check_child_fds(d, api_port):
    """Each worker holds one status socket (its own, distinct), one --listen
    and one --api-listen socket; the broker holds none of them; nobody but
    the supervisor holds the lock file."""
    lock = os.path.join(d.tmpdir, "zwsd.pid")
    seq = seqpacket_inodes()
    ws_l, api_l = listen_inodes(d.port), listen_inodes(api_port)
    sup = socket_inodes(d.proc.pid)
    kids = d.children()
    workers = [p for p, c in kids if c == "zwsd-worker"]
    # the checks can see what they look for: the supervisor holds them all
    assert len(sup & seq) == len(workers), (sorted(sup & seq), workers)
    assert lock in fd_links(d.proc.pid).values()
    assert len(sup & ws_l) == d.workers and len(sup & api_l) == d.workers
    own = []
    for pid, comm in kids:
        links, socks = fd_links(pid), socket_inodes(pid)
        assert lock not in links.values(), f"{comm} {pid} holds the runtime lock"
        want = 1 if comm == "zwsd-worker" else 0
        assert len(socks & seq) == want, \
            f"{comm} {pid} holds {len(socks & seq)} status sockets, expected {want}"
        assert len(socks & ws_l) == want, f"{comm} {pid}: {len(socks & ws_l)} --listen sockets"
        assert len(socks & api_l) == want, f"{comm} {pid}: {len(socks & api_l)} api sockets"
        own += list(socks & seq)
    assert len(own) == len(set(own)) == len(workers), "two workers share a status socket"


def test_children_hold_only_their_own_fds(make_daemon):
    api_port = free_port()
    d = make_daemon("--api-listen", f"127.0.0.1:{api_port}", "--shutdown-timeout", "30",
                    workers=3)
    check_child_fds(d, api_port)

    # a respawned worker and a respawned broker: forked while the others run
    old = set(d.worker_pids())
    mark = d.mark()
    os.kill(d.worker_pids()[0], signal.SIGKILL)
    d.wait_new_worker(old, mark)
    mark = d.mark()
    os.kill(d.broker_pids()[0], signal.SIGKILL)
    d.wait_log(r"^<\d>zwsd-broker\[\d+\]: broker ready", timeout=WAIT, start=mark)
    check_child_fds(d, api_port)

    # a rotation while the old generation drains (a client on each keeps it)
    async def body():
        conns = await connect_on_distinct_workers(d, ["a", "b", "c"])
        mark = d.mark()
        d.proc.send_signal(signal.SIGUSR2)
        seen = set()
        while len(seen) < 3:
            line = d.wait_log(ROTATED, timeout=WAIT, start=mark)
            seen.add(line.match.group(1))
            mark = line.index + 1
        assert len(d.worker_pids()) == 6
        check_child_fds(d, api_port)
        for ws, _, _ in conns:
            await ws.close()
    run(body())


def test_restart_after_supervisor_sigkill_at_once(request, make_daemon):
    """kill -9 of the supervisor alone, while an orphan worker still drains a
    client that does not answer its close: a new zwsd on the same runtime
    directory takes the lock at once (the orphans never held it)."""
    d1 = make_daemon("--shutdown-timeout", "3")
    shared = d1.tmpdir
    s = raw_ws(d1, "alice")                 # reads nothing, answers no close
    kids = {pid: proc_stat(pid)[3] for pid, _ in d1.children()}
    d1.stopped = True
    os.kill(d1.proc.pid, signal.SIGKILL)
    d1.proc.wait()
    d1.tmpdir = tempfile.mkdtemp(prefix="zw", dir="/tmp")     # d1's cleanup: not ours

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    d2 = Daemon(log_path=os.path.join(LOGDIR, safe + ".restart.log"))
    shutil.rmtree(d2.tmpdir)
    d2.tmpdir = shared
    try:
        orphans_then = [p for p, st in kids.items() if alive(p, st)]
        d2.start()
        assert orphans_then, "no orphan was alive: the test proves nothing"
        with open(os.path.join(shared, "zwsd.pid")) as f:
            assert f.read().strip() == str(d2.proc.pid)

        async def body():
            (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(d2, ["alice", "bob"])
            await alice.send(chat("bob", "after-restart", id="r1"))
            got, ack = await asyncio.gather(recv_json(bob), recv_json(alice))
            check_chat(got, "alice", "bob", "after-restart")
            assert ack.get("status") == "delivered", ack
        run(body())
    finally:
        s.close()
        await_gone(kids, 10)                # the orphans' deadline is 3 s
        problems = d2.cleanup()
    assert not problems, "; ".join(problems)


# --------------------------------------------------------------------------
# D. config-file syntax errors: exit 2, one line naming the line and option

def run_zwsd(args):
    p = subprocess.run([ZWSD] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=10)
    return p.returncode, p.stdout.decode(), p.stderr.decode("utf-8", "replace").splitlines()


BAD_SYNTAX = [
    ("overlong line", b"max-message = " + b"1" * 2000 + b"\n", 3, "max-message"),
    ("NUL byte", b"max-groups = 5\0\n", 3, "max-groups"),
    ("missing equals sign", b"max-groups 5\n", 3, "max-groups"),
    ("CR inside a line", b"max-groups = 5\rworkers = 1\n", 3, "max-groups"),
    ("no name", b"= 5\n", 3, "= 5"),
    ("unknown option, no LF at the end", b"workers = 2\ncolour = blue", 4, "colour"),
]


@pytest.mark.parametrize("content,line,option", [(c, l, o) for _, c, l, o in BAD_SYNTAX],
                         ids=[n for n, _, _, _ in BAD_SYNTAX])
def test_config_syntax_error_exits_2(tmp_path, content, line, option):
    port = free_port()
    rtdir = tmp_path / "run"
    conf = tmp_path / "zwsd.conf"
    # valid lines first, the bad one last (its line ends the file)
    conf.write_bytes(f"listen = 127.0.0.1:{port}\nruntime-dir = {rtdir}\n".encode() + content)
    rc, out, err = run_zwsd(["--config", conf, "--api-listen", "off"])
    assert rc == 2, f"exit {rc}: {err}"
    assert len(err) == 1, f"expected one line on stderr: {err}"
    assert f"{conf}:{line}:" in err[0], f"the error does not name the line: {err[0]!r}"
    assert option in err[0], f"the error does not name {option!r}: {err[0]!r}"
    assert len(err[0]) < 300, "the error line quotes too much"
    assert out == "" and not rtdir.exists()


# --------------------------------------------------------------------------
# E. --bus-hwm

@pytest.mark.parametrize("value", ["0", "100000001", "abc", "-1", ""])
def test_bad_bus_hwm_exits_2(tmp_path, value):
    rtdir = tmp_path / "run"
    rc, out, err = run_zwsd(["--bus-hwm", value, "--runtime-dir", rtdir, "--api-listen", "off",
                             "--listen", f"127.0.0.1:{free_port()}"])
    assert rc == 2 and len(err) == 1 and "bus-hwm" in err[0], (rc, err)
    conf = tmp_path / "zwsd.conf"
    conf.write_text(f"bus-hwm = {value}\n")
    rc, out, err = run_zwsd(["--config", conf, "--runtime-dir", rtdir, "--api-listen", "off"])
    assert rc == 2 and len(err) == 1 and "bus-hwm" in err[0], (rc, err)
    assert not rtdir.exists()


def test_bus_hwm_reaches_the_broker(make_daemon, tmp_path):
    d = make_daemon("--bus-hwm", "5000")
    d.wait_log(r"^<6>zwsd\[\d+\]: zwsd starting: .*bus hwm 5000$", timeout=1)
    d.wait_log(r"^<6>zwsd-broker\[\d+\]: broker ready: .*hwm 5000$", timeout=1)

    conf = tmp_path / "zwsd.conf"
    write_conf(conf, "bus-hwm = 7000\n")
    d2 = make_daemon("--config", str(conf))
    d2.wait_log(r"^<6>zwsd-broker\[\d+\]: broker ready: .*hwm 7000$", timeout=1)
    async def routes():
        ws, _ = await ws_connect(d2, "hwm")
        await sized_chat_ok(ws, "hwm", 200, "h1")
        await ws.close()
    run(routes())

    # restart only: a reload names it and keeps the running value
    write_conf(conf, "bus-hwm = 9000\n")
    mark = d2.mark()
    brokers = d2.broker_pids()
    d2.proc.send_signal(signal.SIGHUP)
    d2.wait_log(r"^<4>zwsd\[\d+\]: reload: .*need a restart: .*\bbus-hwm\b", timeout=WAIT,
                start=mark)
    assert d2.broker_pids() == brokers
