"""35 — SIGUSR2 graceful worker rotation (a new generation accepts, the old
one drains: its clients stay and keep chatting, each old worker exits once
its last client is gone) and SIGTERM with clients connected (close 1001,
exit 0 well within --shutdown-timeout)."""
import asyncio
import json
import re
import signal
import time

from conftest import (WAIT, chat, check_chat, proc_stat, recv_json, run, wait_closed, worker_of,
                      ws_connect, connect_on_distinct_workers)

ROTATED = re.compile(r"^<\d>zwsd\[\d+\]: .*worker (\d+) \(pid (\d+)\) listens; old worker "
                     r"\(pid (\d+)\)")


def gone(pid):
    st = proc_stat(pid)
    return st is None or st[1] == "Z"


async def await_exit(pid, timeout):
    """Poll /proc until `pid` is gone (no event reaches a non-parent)."""
    deadline = time.monotonic() + timeout
    while not gone(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive after {timeout} s"
        await asyncio.sleep(0.02)


async def chat_delivered(a, a_user, b, b_user, tag):
    await a.send(chat(b_user, tag, id=tag))
    got, ack = await asyncio.gather(recv_json(b), recv_json(a))
    mid = check_chat(got, a_user, b_user, tag)
    assert ack == {"type": "ack", "id": tag, "mid": mid, "status": "delivered"}, ack


def test_sigusr2_rotation(make_daemon):
    d = make_daemon(shutdown_timeout=30)

    async def body():
        alice, _ = await ws_connect(d, "alice")
        old = d.worker_pids()
        pa = worker_of(d, alice)
        [broker] = d.broker_pids()
        mark = d.mark()
        d.proc.send_signal(signal.SIGUSR2)
        # one "listens; old worker" line per slot, each naming a new pid
        # and an old one
        i, pairs = mark, {}
        while len(pairs) < len(old):
            line = d.wait_log(ROTATED, timeout=WAIT, start=i)
            new_pid, old_pid = int(line.match.group(2)), int(line.match.group(3))
            assert old_pid in old and new_pid not in old, line
            pairs[old_pid] = new_pid
            i = line.index + 1
        new = sorted(pairs.values())
        assert sorted(pairs) == old
        # the old workers have stopped accepting (their own log line) before
        # bob connects, so bob must land on the new generation
        for pid in old:
            d.wait_log(rf"^<\d>zwsd-worker\[{pid}\]: .*drain", timeout=WAIT, start=mark)

        # the worker without clients is gone at once; alice's stays
        idle = [p for p in old if p != pa]
        for pid in idle:
            await await_exit(pid, WAIT)
        assert not gone(pa), "alice's old worker exited while she is connected"
        bob, _ = await ws_connect(d, "bob")
        assert worker_of(d, bob) in new, f"bob on {worker_of(d, bob)}, not a new worker {new}"
        assert alice.open
        await chat_delivered(alice, "alice", bob, "bob", "old-to-new")
        await chat_delivered(bob, "bob", alice, "alice", "new-to-old")
        # groups cross the generations too
        for ws, id in ((alice, "ja"), (bob, "jb")):
            await ws.send(json.dumps({"type": "join", "group": "g", "id": id}))
            assert await recv_json(ws) == {"type": "ack", "id": id, "status": "joined"}
        await alice.send(json.dumps({"type": "group", "group": "g", "msg": "gen", "id": "g1"}))
        got = await recv_json(bob)
        assert got.get("type") == "group" and got.get("msg") == "gen", got
        frames = [await recv_json(alice), await recv_json(alice)]
        assert sorted(f.get("type") for f in frames) == ["ack", "group"], frames
        assert worker_of(d, alice) == pa

        # alice leaves: her old worker exits, the new generation and the
        # broker stay
        await asyncio.wait_for(alice.close(), WAIT)
        await await_exit(pa, WAIT)
        assert sorted(p for p, c in d.children() if c == "zwsd-worker") == new
        assert d.broker_pids() == [broker]
        carol, _ = await ws_connect(d, "carol")
        await chat_delivered(carol, "carol", bob, "bob", "after-rotation")
    run(body())


def test_sigterm_with_clients_is_prompt(make_daemon):
    d = make_daemon(shutdown_timeout=30)

    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(d, ["alice", "bob"])
        carol, _ = await ws_connect(d, "carol")
        t0 = time.monotonic()
        rc = await asyncio.to_thread(d.stop)
        took = time.monotonic() - t0
        print(f"\nSIGTERM with 3 clients: exit {rc} after {took * 1000:.0f} ms")
        assert rc == 0, f"supervisor exited {rc}"
        assert took < 3.0, f"stop took {took:.2f} s with --shutdown-timeout 30"
        codes = [await wait_closed(ws) for ws in (alice, bob, carol)]
        assert codes == [1001, 1001, 1001], codes
    run(body())
