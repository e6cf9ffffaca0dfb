"""31 — SIGHUP re-reads the config file and applies what can change live:
max-message 1000 -> 4000 takes effect for new connections once every worker
logged `reloaded`; a config file with an error is refused, the daemon keeps
running with its old settings and the log warns."""
import json
import os
import re
import signal

from conftest import (WAIT, check_chat, recv_n, run, wait_closed, ws_connect)

WORKER_RELOADED = re.compile(r"^<\d>zwsd-worker\[(\d+)\]: (?:.*\s)?reloaded\b")
SUPERVISOR_RELOADED = re.compile(r"^<\d>zwsd\[\d+\]: (?:.*\s)?reloaded\b")


def padded_chat(receiver, size, id):
    """A valid JSON chat frame of exactly `size` bytes."""
    base = {"type": "chat", "receiver": receiver, "msg": "", "id": id}
    pad = size - len(json.dumps(base, separators=(",", ":")))
    assert pad >= 0
    text = json.dumps(dict(base, msg="x" * pad), separators=(",", ":"))
    assert len(text.encode()) == size
    return text


async def accepted(d, user, size, tag):
    """A new connection sends a `size`-byte chat to itself: it must come back
    with the ack `delivered`."""
    ws, _ = await ws_connect(d, user)
    text = padded_chat(user, size, tag)
    await ws.send(text)
    frames = await recv_n(ws, 2)
    assert sorted(f.get("type") for f in frames) == ["ack", "chat"], \
        f"{size} bytes: {frames if len(str(frames)) < 300 else [f.get('type') for f in frames]}"
    ack = next(f for f in frames if f["type"] == "ack")
    msg = next(f for f in frames if f["type"] == "chat")
    mid = check_chat(msg, user, user, json.loads(text)["msg"])
    assert ack == {"type": "ack", "id": tag, "mid": mid, "status": "delivered"}, ack
    await ws.close()


async def too_large(d, user, size, tag):
    """A new connection sends `size` bytes: closed with 1009."""
    ws, _ = await ws_connect(d, user)
    await ws.send(padded_chat(user, size, tag))
    code = await wait_closed(ws)
    assert code == 1009, f"{size} bytes: closed with {code}, expected 1009"


def write_conf(path, text):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def await_worker_reloads(d, start):
    """Every current worker logs `reloaded` (at or after index start)."""
    want = set(d.worker_pids())
    seen = set()
    i = start
    while seen != want:
        line = d.wait_log(WORKER_RELOADED, timeout=WAIT, start=i)
        seen.add(int(line.match.group(1)))
        i = line.index + 1
    assert seen == want, (seen, want)


def test_sighup_raises_max_message(make_daemon, tmp_path):
    conf = str(tmp_path / "zwsd.conf")
    write_conf(conf, "# reload test\nmax-message = 1000\n")
    d = make_daemon("--config", conf)

    async def before():
        await accepted(d, "alice", 1000, "at-limit")
        await too_large(d, "alice", 1001, "over")
    run(before())

    write_conf(conf, "# reload test, raised\nmax-message = 4000\n")
    mark = d.mark()
    workers = d.worker_pids()
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(SUPERVISOR_RELOADED, timeout=WAIT, start=mark)
    await_worker_reloads(d, mark)
    assert d.worker_pids() == workers, "a reload must not replace the workers"

    async def after():
        await accepted(d, "bob", 1001, "was-over")
        await accepted(d, "bob", 4000, "new-limit")
        await too_large(d, "bob", 4001, "over-new")
    run(after())


def test_sighup_with_bad_config_keeps_old_settings(make_daemon, tmp_path):
    conf = str(tmp_path / "zwsd.conf")
    write_conf(conf, "max-message = 1000\n")
    d = make_daemon("--config", conf)
    workers = d.worker_pids()
    write_conf(conf, "max-message = abc\n")
    mark = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"^<[34]>zwsd\[\d+\]: .*reload", timeout=WAIT, start=mark)
    assert d.running() and d.worker_pids() == workers

    async def body():
        # 1000 still, not 4000 or the default 65536
        await accepted(d, "alice", 1000, "at-limit")
        await too_large(d, "alice", 1001, "over")
    run(body())
    assert not any(WORKER_RELOADED.search(l) for l in d.lines[mark:]), \
        "a worker applied a config file with errors"

    # fixed file, another SIGHUP: now it applies
    write_conf(conf, "max-message = 2000\n")
    mark = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    await_worker_reloads(d, mark)
    run(accepted(d, "bob", 2000, "fixed"))


def test_sighup_applies_broadcast_and_max_groups(make_daemon, tmp_path):
    """zwsd(8) lists --allow-client-broadcast and --max-groups among the
    settings SIGHUP applies live."""
    conf = str(tmp_path / "zwsd.conf")
    write_conf(conf, "max-groups = 1\n")
    d = make_daemon("--config", conf)

    async def check(user, allowed):
        ws, _ = await ws_connect(d, user)
        await ws.send(json.dumps({"type": "broadcast", "msg": "hi", "id": "b"}))
        frames = await recv_n(ws, 2 if allowed else 1)
        kinds = sorted(f.get("type") for f in frames)
        if allowed:
            assert kinds == ["ack", "broadcast"], frames
        else:
            assert frames[0].get("type") == "error" and frames[0].get("code") == "forbidden", \
                frames
        for n in range(3):
            await ws.send(json.dumps({"type": "join", "group": f"g{n}", "id": f"j{n}"}))
            f = (await recv_n(ws, 1))[0]
            ok = n < (3 if allowed else 1)
            assert f.get("status" if ok else "code") == ("joined" if ok else "too_many"), \
                f"join {n + 1} with allowed={allowed}: {f}"
        await ws.close()

    run(check("alice", False))
    write_conf(conf, "max-groups = 3\nallow-client-broadcast = yes\n")
    mark = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    await_worker_reloads(d, mark)
    run(check("bob", True))


def test_sighup_restart_only_setting_is_logged_not_applied(make_daemon, tmp_path):
    """A reload whose file changes a setting that needs a restart (broker:
    the harness gives listen, workers, runtime-dir and api-listen on the
    command line) logs a warning naming it and keeps running as before."""
    conf = str(tmp_path / "zwsd.conf")
    write_conf(conf, "max-groups = 5\n")
    d = make_daemon("--config", conf)
    workers, brokers = d.worker_pids(), d.broker_pids()
    write_conf(conf, "max-groups = 5\nbroker = tcp://127.0.0.1:1,tcp://127.0.0.1:2\n")
    mark = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"^<4>zwsd\[\d+\]: .*\bbroker\b", timeout=WAIT, start=mark)
    await_worker_reloads(d, mark)
    assert d.worker_pids() == workers and d.broker_pids() == brokers

    async def body():
        await accepted(d, "alice", 1000, "still-routed")    # through the embedded broker
    run(body())
