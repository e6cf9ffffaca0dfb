"""45 — CURVE on the broker's tcp:// endpoints (zwsd-broker --curve-secret,
--curve-allow; zwsd --broker-curve; zwsd-send --curve), on a network of hosts:
one network namespace per broker, daemon and backend (netns.py; skipped where
namespaces cannot be made).

A daemon whose key is in the broker's allow directory routes chats to a
daemon on another host; one whose key is not is refused at its handshake (the
broker logs the refusal of both its sockets, with its key): its clients never
get a session (1013), its users are offline for the rest of the cluster, its
API cannot push, its /healthz says the broker is unreachable; once its
certificate is allowed, a worker rotation lets it in. zwsd-send with a key
that is not allowed, or without CURVE, is refused and says why; with an
allowed key its message arrives, and nothing the refused ones sent ever does.
Plus the flags' errors (exit 2, one line), and --make-cert's files."""
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest
import websockets

from conftest import (BUILD, LOGDIR, SUPERVISOR_READY, WAIT, ZWSD, ZWSD_BROKER, chat,
                      chat_offline, check_chat, recv_json, run, send_json, ws_connect, ws_url)
import netns

ZWSD_SEND = os.path.join(BUILD, "zwsd-send")
KEY = r"[0-9A-Za-z.:+=^!/*?&<>()\[\]{}@%$#-]{40}"


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture
def certs():
    """A directory of certificates made with zwsd-broker --make-cert: broker,
    host-a, host-b, backend (all allowed) and mallory (not), and allow/, the
    broker's --curve-allow directory with the allowed ones' public files."""
    d = tempfile.mkdtemp(prefix="zwcurve")
    allow = os.path.join(d, "allow")
    os.mkdir(allow)
    keys = {}
    for name in ("broker", "host-a", "host-b", "backend", "mallory"):
        p = subprocess.run([ZWSD_BROKER, "--make-cert", os.path.join(d, name)],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 0, p.stderr
        keys[name] = re.search(rf"\(key ({KEY})\)", p.stdout).group(1)
        if name not in ("broker", "mallory"):
            shutil.copy(os.path.join(d, name), allow)
    yield d, keys
    shutil.rmtree(d, ignore_errors=True)


def curve_arg(d, name):
    """--broker-curve / --curve for certificate `name`."""
    return f"{d}/{name}_secret,{d}/broker"


@pytest.fixture
def net(request):
    why = netns.available()
    if why:
        pytest.skip(f"network namespaces unavailable here: {why}")
    with netns.Net(["broker", "a", "b", "m", "backend"]) as n:
        n.daemons = []
        n.broker = None
        request.node._zwsd_daemons = n.daemons
        yield n
        problems = []
        for d in n.daemons:                 # the daemons before their network
            problems += d.cleanup()
        if n.broker:
            n.broker.kill()
        assert not problems, "; ".join(problems)


def log_path(request, what):
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    return os.path.join(LOGDIR, f"{safe}.{what}.log")


def start_broker(request, net, certs):
    d, _ = certs
    net.broker = netns.NsBroker(net["broker"], log_path(request, "broker"),
                                args=["--curve-secret", f"{d}/broker_secret",
                                      "--curve-allow", f"{d}/allow"]).start()
    net.broker.wait_log(r"broker ready: .*CURVE clients allowed from")
    return net.broker


def daemon(request, net, host, *args, workers=1):
    d = netns.NsDaemon(net[host], ["--broker", net.broker.arg, *args], workers=workers,
                       log_path=log_path(request, f"zwsd-{host}"))
    net.daemons.append(d)
    return d


def send(net, host, *args):
    return net[host].run([ZWSD_SEND, "--broker", net.broker.endpoints[0], *args])


async def delivered(a, a_user, b, b_user, tag):
    await a.send(chat(b_user, tag, id=tag))
    got, ack = await asyncio.gather(recv_json(b), recv_json(a))
    mid = check_chat(got, a_user, b_user, tag)
    assert ack == {"type": "ack", "id": tag, "mid": mid, "status": "delivered"}, ack


async def next_is_push(ws, user, msg):
    """The next frame of ws is the backend push msg to user."""
    f = await recv_json(ws)
    assert f.get("type") == "chat" and f.get("sender") == "system" and f.get("msg") == msg, \
        f"expected only the push {msg!r} next, got {f}"
    check_chat(f, "system", user, msg)


# --------------------------------------------------------------------------

def test_allowed_keys_route_between_hosts(request, net, certs):
    d, keys = certs
    start_broker(request, net, certs)
    a = daemon(request, net, "a", "--broker-curve", curve_arg(d, "host-a"), workers=2).start()
    b = daemon(request, net, "b", "--broker-curve", curve_arg(d, "host-b")).start()
    assert a.wait_log(r"broker link: CURVE, this host's public key (\S+)").match.group(1) \
        == keys["host-a"]
    # the broker let both sockets of every worker in, with their own keys
    net.broker.wait_log(re.escape(f"allowed (CURVE) client_key={keys['host-a']}"), count=4)
    net.broker.wait_log(re.escape(f"allowed (CURVE) client_key={keys['host-b']}"), count=2)

    async def body():
        alice, _ = await ws_connect(a, "alice")
        bob, _ = await ws_connect(b, "bob")
        await delivered(alice, "alice", bob, "bob", "a-to-b")
        await delivered(bob, "bob", alice, "alice", "b-to-a")
        await send_json(alice, {"type": "presence", "users": ["bob", "nobody"], "id": "p"})
        assert await recv_json(alice) == {"type": "presence", "id": "p",
                                          "online": {"bob": True, "nobody": False}}
        # a backend on a fourth host, with its own allowed key
        p = send(net, "backend", "--to", "bob", "--msg", '{"progress":40}',
                 "--curve", curve_arg(d, "backend"))
        assert p.returncode == 0, p.stderr
        await next_is_push(bob, "bob", {"progress": 40})
    run(body())
    assert a.api("/healthz") == (200, "ok") and b.api("/healthz") == (200, "ok")


def test_a_daemon_without_an_allowed_key_is_refused(request, net, certs):
    d, keys = certs
    start_broker(request, net, certs)
    b = daemon(request, net, "b", "--broker-curve", curve_arg(d, "host-b")).start()
    m = daemon(request, net, "m", "--broker-curve", curve_arg(d, "mallory"))
    line = m.launch(r"broker link: CURVE, this host's public key (\S+)")
    assert line.match.group(1) == keys["mallory"]
    # both of its worker's sockets (PUB and SUB) reached the broker and were
    # refused; libzmq does not retry a refused handshake
    net.broker.wait_log(re.escape(f"denied (CURVE) client_key={keys['mallory']}"), count=2)
    assert m.api("/healthz") == (503, "unavailable")
    assert b.api("/healthz") == (200, "ok")

    async def body():
        bob, _ = await ws_connect(b, "bob")
        # mallory's connection upgrades, but never becomes a session: no
        # welcome, and 1013 (try again later) at the 5 s deadline
        mws = await asyncio.wait_for(websockets.connect(ws_url(m, "mallory"), open_timeout=WAIT,
                                                        ping_interval=None), WAIT)
        # meanwhile mallory is unreachable from the cluster
        await chat_offline(bob, "mallory", "to-mallory")
        await send_json(bob, {"type": "presence", "users": ["mallory"], "id": "p"})
        assert await recv_json(bob) == {"type": "presence", "id": "p",
                                        "online": {"mallory": False}}
        # and m's backends cannot push through it
        status, text = m.api("/api/v1/send", json.dumps({"receiver": "bob", "msg": "from-m"}))
        assert status == 503 and json.loads(text).get("error") == "unavailable", (status, text)
        try:
            frame = await asyncio.wait_for(mws.recv(), 10)
            raise AssertionError(f"mallory got a frame from a refused daemon: {frame}")
        except websockets.ConnectionClosed:
            pass
        assert mws.close_code == 1013, mws.close_code
        # nothing reached bob from m: a push is his next frame
        p = send(net, "backend", "--to", "bob", "--msg", '"marker"',
                 "--curve", curve_arg(d, "backend"))
        assert p.returncode == 0, p.stderr
        await next_is_push(bob, "bob", "marker")

        # The key alone was the reason: allowed now, a rotation's new worker
        # gets in (the refused sockets are not retried), and routes.
        shutil.copy(os.path.join(d, "mallory"), os.path.join(d, "allow"))
        start = m.mark()
        m.proc.send_signal(signal.SIGUSR2)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: m.wait_log(SUPERVISOR_READY, timeout=10, start=start))
        mal, _ = await ws_connect(m, "mallory")
        await delivered(mal, "mallory", bob, "bob", "m-to-b")
        await delivered(bob, "bob", mal, "mallory", "b-to-m")
    run(body())
    assert m.api("/healthz") == (200, "ok")


def test_zwsd_send_needs_an_allowed_key(request, net, certs):
    d, keys = certs
    start_broker(request, net, certs)
    b = daemon(request, net, "b", "--broker-curve", curve_arg(d, "host-b")).start()

    async def body():
        bob, _ = await ws_connect(b, "bob")
        p = send(net, "backend", "--to", "bob", "--msg", '"refused"',
                 "--curve", curve_arg(d, "mallory"))
        assert p.returncode == 1 and "refused our CURVE key" in p.stderr, (p.returncode, p.stderr)
        assert p.stdout == "", p.stdout
        net.broker.wait_log(re.escape(f"denied (CURVE) client_key={keys['mallory']}"))
        p = send(net, "backend", "--to", "bob", "--msg", '"plain"')
        assert p.returncode == 1 and "wants CURVE" in p.stderr, (p.returncode, p.stderr)
        # the broker's public key must be the broker's: another one fails
        p = send(net, "backend", "--to", "bob", "--msg", '"wrong-server"',
                 "--curve", f"{d}/backend_secret,{d}/mallory")
        assert p.returncode == 1 and "handshake" in p.stderr, (p.returncode, p.stderr)
        p = send(net, "backend", "--to", "bob", "--msg", '"allowed"',
                 "--curve", curve_arg(d, "backend"))
        assert p.returncode == 0 and re.fullmatch(r"[0-9a-f]{16}-1\n", p.stdout), \
            (p.returncode, p.stdout, p.stderr)
        await next_is_push(bob, "bob", "allowed")      # and none of the others before it
    run(body())


# --------------------------------------------------------------------------
# flags (no network needed)

def run_prog(argv, timeout=10):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def one_line(p):
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def test_flag_errors_exit_2_with_one_line(certs, tmp_path):
    d, _ = certs
    ext = ["--broker", "tcp://127.0.0.1:1,tcp://127.0.0.1:2", "--runtime-dir", str(tmp_path / "r")]
    cases = [
        ([ZWSD, "--broker-curve", curve_arg(d, "host-a"), "--runtime-dir", str(tmp_path / "r")],
         "needs an external broker"),
        ([ZWSD, *ext, "--broker-curve", f"{d}/host-a,{d}/broker"], "no secret key"),
        ([ZWSD, *ext, "--broker-curve", f"{d}/host-a_secret,{d}/broker_secret"],
         "broker's secret key"),
        ([ZWSD, *ext, "--broker-curve", f"{d}/nope,{d}/broker"], "No such file"),
        ([ZWSD, *ext, "--broker-curve", f"/etc/hostname,{d}/broker"], "not a certificate"),
        ([ZWSD, *ext, "--broker-curve", f"{d}/host-a_secret"], "CLIENT_SECRET_FILE,BROKER"),
        ([ZWSD_SEND, "--to", "bob", "--msg", "1", "--curve", f"{d}/backend,{d}/broker"],
         "no secret key"),
        ([ZWSD_BROKER, "--curve-secret", f"{d}/broker_secret"], "go together"),
        ([ZWSD_BROKER, "--curve-secret", f"{d}/broker", "--curve-allow", f"{d}/allow"],
         "no secret key"),
        ([ZWSD_BROKER, "--curve-secret", f"{d}/broker_secret", "--curve-allow", f"{d}/broker"],
         "not a directory"),
    ]
    for argv, expect in cases:
        p = run_prog(argv)
        assert p.returncode == 2, (argv, p.returncode, p.stderr)
        assert expect in one_line(p), (argv, p.stderr)
    # the same in a config file: the embedded broker is the default
    conf = tmp_path / "zwsd.conf"
    conf.write_text(f"broker-curve = {curve_arg(d, 'host-a')}\n")
    p = run_prog([ZWSD, "--config", str(conf), "--runtime-dir", str(tmp_path / "r")])
    assert p.returncode == 2 and "needs an external broker" in one_line(p), p.stderr


def test_make_cert(tmp_path):
    base = tmp_path / "host"
    p = run_prog([ZWSD_BROKER, "--make-cert", str(base)])
    assert p.returncode == 0, p.stderr
    assert oct(os.stat(f"{base}_secret").st_mode & 0o777) == "0o600"
    pub = open(base).read()
    sec = open(f"{base}_secret").read()
    key = re.search(rf'public-key = "({KEY})"', pub).group(1)
    assert key in p.stdout and "secret-key" not in pub
    assert re.search(rf'secret-key = "{KEY}"', sec) and key in sec
    p = run_prog([ZWSD_BROKER, "--make-cert", str(base)])
    assert p.returncode == 1 and "exists already" in one_line(p), p.stderr
    assert open(f"{base}_secret").read() == sec


def test_runtime_directory_is_created_0700(make_daemon):
    """The embedded broker's ipc:// sockets live in a directory only the
    daemon's user can enter."""
    parent = tempfile.mkdtemp(prefix="zwrt")
    try:
        rt = os.path.join(parent, "run")
        old = os.umask(0)                   # even so
        try:
            d = make_daemon(runtime_dir=rt)
        finally:
            os.umask(old)
        assert oct(os.stat(rt).st_mode & 0o777) == "0o700"
        assert {"pub", "sub"} <= set(os.listdir(rt))
        d.stop()
    finally:
        shutil.rmtree(parent, ignore_errors=True)
