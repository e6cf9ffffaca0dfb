"""01 — the foundation: welcome, 1:1 chat across workers, acks.

Every test runs against a real zwsd with 2 workers; where it matters that two
users sit on different worker processes, connect_on_distinct_workers() places
them and worker_of() (the kernel's socket table) proves it.
"""
import asyncio
import json

import pytest

from conftest import (WAIT, assert_usable, chat, check_chat, connect_on_distinct_workers,
                      recv_json, recv_n, run, time_until_offline, uniq, worker_of,
                      ws_connect)

# msg values that must come back exactly (value and JSON type) as sent
MSG_VALUES = [
    {"text": "hello", "n": 1, "list": [1, 2, {"deep": [True, False, None]}]},
    "a plain string",
    42,
    -7.25,
    0.1,
    True,
    None,
    [],
    {},
    "",
    {"ünïcödé": "日本語 ✓ 🎉", "nested": {"emoji": ["🙂", "𝄞"], "rtl": "שלום"}},
    "quotes \" backslash \\ newline \n tab \t end",
]

# legal JSON that a careless parser setup refuses or alters
EDGE_VALUES = [
    9007199254740993,                   # 2**53 + 1: must not pass through a double
    -9223372036854775808,               # int64 minimum
    "nul \u0000 inside",                 # jansson needs JSON_ALLOW_NUL
    1e300,
]


def test_welcome_is_first_frame(daemon):
    """welcome is the first frame; user is the path's userId taken literally;
    session is a non-empty string, different for each connection."""
    users = ["alice", "A.b_c-d@e.f", "x" * 64, "9", "-", "bob@example.com"]

    async def body():
        sessions = []
        for user in users:
            ws, welcome = await ws_connect(daemon, user)
            assert welcome.get("user") == user, welcome
            assert isinstance(welcome.get("session"), str) and welcome["session"], welcome
            sessions.append(welcome["session"])
        assert len(set(sessions)) == len(sessions), f"sessions repeat: {sessions}"
    run(body())


def test_chat_both_ways_across_workers(daemon):
    """alice and bob on different workers; every msg value arrives exactly as
    sent, with sender/receiver stamped, a mid and an RFC 3339 createTime."""
    async def body():
        (alice, _, pa), (bob, _, pb) = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        assert pa != pb
        assert worker_of(daemon, alice) == pa and worker_of(daemon, bob) == pb
        mids = []
        for src, dst, s, r in ((alice, bob, "alice", "bob"), (bob, alice, "bob", "alice")):
            for v in MSG_VALUES:
                await src.send(chat(r, v))
            for v in MSG_VALUES:
                mids.append(check_chat(await recv_json(dst), s, r, v))
        # raw UTF-8 on the wire (not \\u escapes) is accepted the same way
        v = MSG_VALUES[-2]
        await alice.send(json.dumps({"type": "chat", "receiver": "bob", "msg": v},
                                    ensure_ascii=False))
        mids.append(check_chat(await recv_json(bob), "alice", "bob", v))
        assert len(set(mids)) == len(mids), "mid is not unique"
    run(body())


@pytest.mark.parametrize("value", EDGE_VALUES, ids=["2^53+1", "int64-min", "nul-char", "1e300"])
def test_chat_edge_values(shared_daemon, value):
    """Legal JSON values at the edges arrive exactly as sent."""
    async def body():
        a, b = uniq("alice"), uniq("bob")
        alice, _ = await ws_connect(shared_daemon, a)
        bob, _ = await ws_connect(shared_daemon, b)
        await alice.send(chat(b, value))
        check_chat(await recv_json(bob), a, b, value)
    run(body())


def test_order_preserved_across_workers(daemon):
    """Messages from one session to one target arrive in the order sent."""
    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        n = 200
        for i in range(n):
            await alice.send(chat("bob", i))
        got = [(await recv_json(bob)).get("msg") for _ in range(n)]
        assert got == list(range(n))
    run(body())


def test_type_defaults_to_chat(daemon):
    """No `type` but a `receiver`: a chat (delivered and acked)."""
    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        await alice.send(json.dumps({"receiver": "bob", "msg": {"k": "v"}, "id": "d1"}))
        mid = check_chat(await recv_json(bob), "alice", "bob", {"k": "v"})
        ack = await recv_json(alice)
        assert ack == {"type": "ack", "id": "d1", "mid": mid, "status": "delivered"}
    run(body())


def test_chat_to_self(daemon):
    """A chat to oneself reaches the sending session, and is acked delivered."""
    async def body():
        ws, _ = await ws_connect(daemon, "carol")
        await assert_usable(ws, "carol", "self-1")
        await ws.send(chat("carol", {"x": [1, 2]}))         # no id: the chat only
        check_chat(await recv_json(ws), "carol", "carol", {"x": [1, 2]})
    run(body())


def test_forged_sender_ignored(daemon):
    """`sender` in a client frame is ignored: the receiver sees the
    authenticated userId."""
    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        for forged in ("mallory", "system", "bob", 17, None):
            await alice.send(chat("bob", "hi", sender=forged))
            check_chat(await recv_json(bob), "alice", "bob", "hi")
    run(body())


def test_ack_delivered_has_receivers_mid(daemon):
    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        await alice.send(chat("bob", "one", id="a1"))
        got, ack = await asyncio.gather(recv_json(bob), recv_json(alice))
        mid = check_chat(got, "alice", "bob", "one")
        assert ack == {"type": "ack", "id": "a1", "mid": mid, "status": "delivered"}
        # and the other way round, from the other worker
        await bob.send(chat("alice", "two", id="b1"))
        got, ack = await asyncio.gather(recv_json(alice), recv_json(bob))
        mid2 = check_chat(got, "bob", "alice", "two")
        assert ack == {"type": "ack", "id": "b1", "mid": mid2, "status": "delivered"}
        assert mid2 != mid
    run(body())


def test_ack_offline(daemon):
    """A chat to a user with no session anywhere is acked offline, with a mid."""
    async def body():
        alice, _ = await ws_connect(daemon, "alice")
        await alice.send(chat("nobody", "hello?", id="o1"))
        ack = await recv_json(alice)
        assert ack.get("type") == "ack" and ack.get("id") == "o1", ack
        assert ack.get("status") == "offline", ack
        assert isinstance(ack.get("mid"), str) and ack["mid"], ack
        # kept in nobody's stream (history, zwsd-protocol(7)): "stored"
        assert set(ack) == {"type", "id", "mid", "status", "stored"}, ack
        assert ack["stored"] is True, ack
    run(body())


def test_no_ack_without_id(daemon):
    """Without an id no ack comes: the next frame the sender gets is the ack of
    a later frame that has one (for a delivered and for an offline chat)."""
    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        await alice.send(chat("bob", "no id"))
        await alice.send(chat("nobody", "no id either"))
        await alice.send(chat("bob", "with id", id="a2"))
        ack = await recv_json(alice)
        assert ack.get("type") == "ack" and ack.get("id") == "a2", \
            f"expected the ack of a2 first, got {ack}"
        first, second = await recv_n(bob, 2)
        check_chat(first, "alice", "bob", "no id")
        assert ack["mid"] == check_chat(second, "alice", "bob", "with id")
        await alice.send(chat("nobody", "with id", id="a3"))
        ack = await recv_json(alice)
        assert ack.get("id") == "a3" and ack.get("status") == "offline", ack
    run(body())


def test_valid_edge_values_accepted(daemon):
    """The extremes of the id and userId rules are accepted: a 64-byte id, ids
    of odd printable characters, a 64-character receiver."""
    async def body():
        alice, _ = await ws_connect(daemon, "alice")
        for i, rid in enumerate(["i" * 64, "!", "~{}[]\"\\'", "a:b/c?d#e"]):
            await alice.send(chat("nobody", i, id=rid))
            ack = await recv_json(alice)
            assert ack.get("type") == "ack" and ack.get("id") == rid, ack
            assert ack.get("status") == "offline", ack
        for rcv in ["r" * 64, "Z.9_-@"]:
            await alice.send(chat(rcv, "x", id="r-" + rcv[:8]))
            ack = await recv_json(alice)
            assert ack.get("id") == "r-" + rcv[:8] and ack.get("status") == "offline", ack
    run(body())


def test_ack_within_one_second(daemon):
    """delivered and offline acks come within 1 s (protocol bound)."""
    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        loop = asyncio.get_running_loop()
        for rcv, status in (("bob", "delivered"), ("nobody", "offline")):
            t0 = loop.time()
            await alice.send(chat(rcv, "t", id="t-" + rcv))
            ack = await recv_json(alice, timeout=WAIT)
            assert ack.get("status") == status, ack
            assert loop.time() - t0 < 1.0, f"{status} ack took {loop.time() - t0:.3f} s"
    run(body())


def test_offline_after_receiver_leaves(daemon):
    """Once bob's only session has closed, a chat to him is acked offline
    within 1 s (zwsd(8)), from the other worker."""
    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        await alice.send(chat("bob", "still there?", id="x1"))
        ack = await recv_json(alice)
        assert ack.get("status") == "delivered", ack
        await asyncio.wait_for(bob.close(), WAIT)
        t0 = asyncio.get_running_loop().time()
        took = await time_until_offline(alice, "bob", t0)
        assert took <= 1.2, f"bob reported offline only {took:.2f} s after leaving"
    run(body())
