"""34 — two zwsd daemons (each its own --listen and --runtime-dir) sharing
one external zwsd-broker form one cluster: 1:1 chat, groups and presence
cross between them, and in single-session mode a login on daemon B closes
the same user's older session on daemon A with 4001."""
import asyncio
import os
import re

import pytest

from conftest import (ExtBroker, chat_offline, LOGDIR, chat, check_chat, recv_json, recv_n, run, send_json,
                      wait_closed, ws_connect)


@pytest.fixture
def ext_broker(request):
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    b = ExtBroker(os.path.join(LOGDIR, safe + ".broker.log")).start()
    yield b
    b.kill()


async def chat_delivered(a, a_user, b, b_user, tag):
    await a.send(chat(b_user, tag, id=tag))
    got, ack = await asyncio.gather(recv_json(b), recv_json(a))
    mid = check_chat(got, a_user, b_user, tag)
    assert ack == {"type": "ack", "id": tag, "mid": mid, "status": "delivered"}, ack


async def join(ws, group, id):
    await send_json(ws, {"type": "join", "group": group, "id": id})
    assert await recv_json(ws) == {"type": "ack", "id": id, "status": "joined"}


def test_two_daemons_one_broker(make_daemon, ext_broker):
    a = make_daemon(broker=ext_broker.arg)
    b = make_daemon(broker=ext_broker.arg)
    assert a.port != b.port and a.tmpdir != b.tmpdir

    async def body():
        alice, _ = await ws_connect(a, "alice")
        bob, _ = await ws_connect(b, "bob")
        await chat_delivered(alice, "alice", bob, "bob", "a-to-b")
        await chat_delivered(bob, "bob", alice, "alice", "b-to-a")
        # a user on neither daemon is offline for both
        await chat_offline(alice, "nobody", "off")
        # presence and groups cross too
        await send_json(alice, {"type": "presence", "users": ["bob", "nobody"], "id": "p"})
        assert await recv_json(alice) == {"type": "presence", "id": "p",
                                          "online": {"bob": True, "nobody": False}}
        await join(alice, "g", "ja")
        await join(bob, "g", "jb")
        await send_json(bob, {"type": "group", "group": "g", "msg": "all hosts", "id": "g1"})
        frames = await recv_n(bob, 2)
        ack = next(f for f in frames if f.get("type") == "ack")
        got = await recv_json(alice)
        assert got.get("type") == "group" and got.get("msg") == "all hosts" \
            and got.get("mid") == ack.get("mid"), (got, frames)
    run(body())


def test_single_session_across_daemons(make_daemon, ext_broker):
    """bob logs in on A, then on B: A's session is closed with 4001; the new
    one on B gets bob's chats, from either daemon."""
    a = make_daemon(broker=ext_broker.arg)
    b = make_daemon(broker=ext_broker.arg)

    async def body():
        alice, _ = await ws_connect(a, "alice")
        bob_a, _ = await ws_connect(a, "bob")
        await chat_delivered(alice, "alice", bob_a, "bob", "to-bob-on-a")
        bob_b, _ = await ws_connect(b, "bob")
        code = await wait_closed(bob_a)
        assert code == 4001, f"bob's session on daemon A closed with {code}, not 4001"
        await chat_delivered(alice, "alice", bob_b, "bob", "to-bob-on-b")
        carol, _ = await ws_connect(b, "carol")
        await chat_delivered(carol, "carol", bob_b, "bob", "same-daemon")
        assert bob_b.open
    run(body())
