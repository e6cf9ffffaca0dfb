"""21 — client broadcast: refused (`forbidden`) unless the daemon runs with
--allow-client-broadcast; with it, one broadcast reaches every online
session on every worker exactly once, the sender's included, and the
sender gets the ack `sent` with the mid the sessions got.

Exactly once / nothing is proven with a marker: a 1:1 chat sent after the
broadcast arrived must be each session's next frame."""

from conftest import (place, markers, RFC3339_MS, check_error, connect_on_distinct_workers,
                      recv_json, recv_n, run, send_json, uniq, worker_of, ws_connect)


def check_broadcast(frame, sender, msg):
    assert frame.get("type") == "broadcast", frame
    assert frame.get("sender") == sender, frame
    assert "msg" in frame and frame["msg"] == msg, frame
    assert isinstance(frame.get("mid"), str) and frame["mid"], frame
    assert isinstance(frame.get("createTime"), str) and RFC3339_MS.match(frame["createTime"]), \
        frame
    return frame["mid"]


def test_client_broadcast_forbidden_by_default(shared_daemon):
    d = shared_daemon
    ua, ub, um = uniq("alice"), uniq("bob"), uniq("mark")

    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(d, [ua, ub])
        mark, _ = await ws_connect(d, um)
        await send_json(alice, {"type": "broadcast", "msg": "hello all", "id": "b1"})
        check_error(await recv_json(alice), "forbidden", id="b1")
        await send_json(alice, {"type": "broadcast", "msg": "no id"})
        check_error(await recv_json(alice), "forbidden")
        await markers(mark, um, [(alice, ua), (bob, ub)], "nothing")
    run(body())


def test_client_broadcast_reaches_every_session_once(make_daemon):
    d = make_daemon(allow_client_broadcast=True)

    async def body():
        (alice, _, w1), (bob, _, w2) = await connect_on_distinct_workers(d, ["alice", "bob"])
        carol, _ = await place(d, "carol", w1)
        dave, _ = await place(d, "dave", w2)
        everyone = [(alice, "alice"), (bob, "bob"), (carol, "carol"), (dave, "dave")]
        assert sorted(worker_of(d, ws) for ws, _ in everyone) == sorted([w1, w1, w2, w2])

        await send_json(carol, {"type": "broadcast", "msg": {"news": 1}, "id": "bc1"})
        frames = await recv_n(carol, 2)
        assert sorted(f.get("type") for f in frames) == ["ack", "broadcast"], frames
        ack = next(f for f in frames if f["type"] == "ack")
        mid = check_broadcast(next(f for f in frames if f["type"] == "broadcast"),
                              "carol", {"news": 1})
        assert ack == {"type": "ack", "id": "bc1", "mid": mid, "status": "sent"}, ack
        for ws, user in everyone:
            if ws is not carol:
                got = check_broadcast(await recv_json(ws), "carol", {"news": 1})
                assert got == mid, f"{user} got mid {got}, the ack said {mid}"
        await markers(alice, "alice", everyone, "once")

        # without an id: delivered the same, no ack
        await send_json(bob, {"type": "broadcast", "msg": "quiet"})
        for ws, _ in everyone:
            check_broadcast(await recv_json(ws), "bob", "quiet")
        await markers(dave, "dave", everyone, "no-ack")
    run(body())
