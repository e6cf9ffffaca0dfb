"""39 — --bus-batch-us: a worker holds what it publishes for a short window and
sends it in one burst; --turn-us: a busy worker and broker start their loop
turns on a grid of US microseconds, and a sleeping worker writes out what the
bus brings in a turn that reads no client. Whatever the window or turn,
nothing is lost,
reordered or answered falsely: a burst of chats with ids across workers
arrives complete and in order, each acked `delivered` with the mid the
receiver got; group and presence traffic rides the same queue; a standalone
broker paced the same way forwards it all too. Timings are not asserted
(benchmarks measure them: scripts/bench-chat.sh)."""
import asyncio
import json
import os
import subprocess
import time

import msgpack
import pytest
import zmq

from conftest import (LOGDIR, ZWSD, ZWSD_BROKER, ExtBroker, chat, connect_on_distinct_workers,
                      recv_json, run, send_json, uniq, ws_connect)

N = 200


async def burst_is_complete_ordered_and_acked(d):
        (alice, _, _), (bob, wb, _) = await connect_on_distinct_workers(
            d, [uniq("alice"), uniq("bob")])
        bob_user = wb["user"]
        for i in range(N):
            await alice.send(chat(bob_user, {"n": i}, id=f"c{i}"))
        acks = {}
        while len(acks) < N:
            f = await recv_json(alice)
            assert f["type"] == "ack", f
            assert f["id"] not in acks, f"two answers for {f['id']}"
            acks[f["id"]] = f
        got = []
        while len(got) < N:
            f = await recv_json(bob)
            assert f["type"] == "chat", f
            got.append(f)
        assert [f["msg"]["n"] for f in got] == list(range(N)), "order or loss"
        for i, f in enumerate(got):
            a = acks[f"c{i}"]
            assert a["status"] == "delivered" and a["mid"] == f["mid"], (a, f)


@pytest.mark.parametrize("window", ["0", "200", "50000"])
def test_burst_across_workers_is_complete_ordered_and_acked(make_daemon, window):
    run(burst_is_complete_ordered_and_acked(make_daemon("--bus-batch-us", window)))


@pytest.mark.parametrize("turn", ["0", "1000", "10000"])
def test_paced_turns_lose_and_reorder_nothing(make_daemon, turn):
    """10 ms turns (the maximum) in the workers and the embedded broker: the
    burst queues up between turns and still arrives whole, in order, acked."""
    run(burst_is_complete_ordered_and_acked(make_daemon("--turn-us", turn)))


async def ping_pong(d, rounds):
    """Each chat is sent only once the previous one arrived: every step needs
    a client read that came while its worker was in a bus-woken turn."""
    (alice, wa, _), (bob, wb, _) = await connect_on_distinct_workers(
        d, [uniq("alice"), uniq("bob")])
    ends = [(alice, wa["user"]), (bob, wb["user"])]
    for i in range(rounds):
        (src, _), (dst, dst_user) = ends[i % 2], ends[(i + 1) % 2]
        await src.send(chat(dst_user, {"n": i}, id=f"p{i}"))
        f = await recv_json(dst)
        assert f["type"] == "chat" and f["msg"]["n"] == i, f
        a = await recv_json(src)
        assert a["type"] == "ack" and a["id"] == f"p{i}" and a["status"] == "delivered", a
        assert a["mid"] == f["mid"], (a, f)


def test_paced_ping_pong_reads_every_client(make_daemon):
    """10 ms turns: a reply sent while its worker sleeps between grid points
    is read at the next point, however many bus-woken turns came between."""
    run(ping_pong(make_daemon("--turn-us", "10000"), 40))


def test_paced_standalone_broker_forwards_everything(make_daemon):
    b = ExtBroker(os.path.join(LOGDIR, uniq("paced") + ".broker.log"),
                  args=["--turn-us", "10000"]).start()
    try:
        run(burst_is_complete_ordered_and_acked(make_daemon("--turn-us", "0", broker=b.arg)))
    finally:
        b.kill()


def test_envelopes_back_to_back_in_one_frame_are_dropped(make_daemon):
    """The envelope frame is exactly one envelope (ENVELOPE.md): two chats
    in one frame on u:bob| reach nobody, and the next good chat arrives."""
    d = make_daemon(workers=1)
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.connect(f"ipc://{os.path.join(d.tmpdir, 'pub')}")

    async def body():
        bob = uniq("bob")
        ws, _ = await ws_connect(d, bob)
        topic = f"u:{bob}|".encode()

        def one(msg):
            return msgpack.packb({"v": 1, "kind": "chat", "sender": "system", "to": bob,
                                  "msg": json.dumps(msg)})
        deadline = time.monotonic() + 5
        got = None
        while got is None:              # a PUB drops until connected: repeat
            assert time.monotonic() < deadline, "the good message never arrived"
            pub.send_multipart([topic, one("first") + one("second")])
            pub.send_multipart([topic, one("ok-marker")])
            try:
                got = await recv_json(ws, timeout=0.2)
            except AssertionError:
                continue
        assert got.get("type") == "chat" and got.get("msg") == "ok-marker", got
        await asyncio.wait_for(ws.close(), 5)

    try:
        run(body())
    finally:
        pub.close()
        ctx.term()


@pytest.mark.parametrize("argv", [[ZWSD_BROKER, "--turn-us", "10001"],
                                  [ZWSD_BROKER, "--turn-us", "-1"],
                                  [ZWSD, "--turn-us", "10001"],
                                  [ZWSD, "--turn-us", "soon"]])
def test_bad_turn_exits_2_with_one_line(tmp_path, argv):
    if argv[0] == ZWSD:
        argv = argv + ["--runtime-dir", str(tmp_path)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "turn-us" in lines[0], (p.returncode,
                                                                            p.stderr)


def test_long_window_still_serves_groups_and_presence(make_daemon):
    d = make_daemon("--bus-batch-us", "50000")

    async def body():
        (alice, wa, _), (bob, wb, _) = await connect_on_distinct_workers(
            d, [uniq("alice"), uniq("bob")])
        g = uniq("g")
        await send_json(bob, {"type": "join", "group": g, "id": "j"})
        f = await recv_json(bob)
        assert f == {"type": "ack", "id": "j", "status": "joined"} or \
            (f["type"] == "ack" and f["status"] == "joined"), f
        await send_json(alice, {"type": "join", "group": g, "id": "j"})
        assert (await recv_json(alice))["status"] == "joined"
        await send_json(alice, {"type": "group", "group": g, "msg": "hi", "id": "m"})
        seen = {}
        while "ack" not in seen or "group" not in seen:
            f = await recv_json(alice)
            seen[f["type"]] = f
        assert seen["ack"]["status"] == "sent"
        f = await recv_json(bob)
        assert f["type"] == "group" and f["msg"] == "hi" and f["sender"] == wa["user"], f
        await send_json(alice, {"type": "presence", "users": [wb["user"], "nobody-here"],
                                "id": "p"})
        f = await recv_json(alice)
        assert f["type"] == "presence" and f["online"] == {wb["user"]: True,
                                                            "nobody-here": False}, json.dumps(f)

    run(body())
