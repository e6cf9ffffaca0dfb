"""20 — groups: a group message reaches every member session exactly once,
wherever it is connected (the sender's own member sessions included, the
sending one too) and no one else; join and leave are idempotent; leave,
a disconnect and a reconnect end the membership; --max-groups.

"Receives nothing" is proven without sleeping: after the group message has
reached the members, a marker (a 1:1 chat sent afterwards) must be the very
next frame of every session that must not get (another copy of) it."""
import asyncio

from conftest import (place, markers, RFC3339_MS, WAIT, check_error,
                      connect_on_distinct_workers, recv_json, recv_n, run, send_json, uniq,
                      wait_closed, worker_of, ws_connect)


async def join(ws, group, id):
    await send_json(ws, {"type": "join", "group": group, "id": id})
    ack = await recv_json(ws)
    assert ack == {"type": "ack", "id": id, "status": "joined"}, f"join {group}: {ack}"


async def leave(ws, group, id):
    await send_json(ws, {"type": "leave", "group": group, "id": id})
    ack = await recv_json(ws)
    assert ack == {"type": "ack", "id": id, "status": "left"}, f"leave {group}: {ack}"


def check_group(frame, sender, group, msg):
    """Assert a server group frame; returns its mid."""
    assert frame.get("type") == "group", frame
    assert frame.get("sender") == sender, frame
    assert frame.get("group") == group, frame
    assert "msg" in frame and frame["msg"] == msg, frame
    assert isinstance(frame.get("mid"), str) and frame["mid"], frame
    assert isinstance(frame.get("createTime"), str) and RFC3339_MS.match(frame["createTime"]), \
        frame
    return frame["mid"]


async def send_group(ws, sender, group, msg, id):
    """Send a group message from a member session; returns the mid of the ack
    `sent`, after checking that the sending session got its own copy too
    (ack and copy in either order)."""
    await send_json(ws, {"type": "group", "group": group, "msg": msg, "id": id})
    frames = await recv_n(ws, 2)
    kinds = sorted(f.get("type") for f in frames)
    assert kinds == ["ack", "group"], f"sender of {id}: {frames}"
    ack = next(f for f in frames if f["type"] == "ack")
    own = next(f for f in frames if f["type"] == "group")
    mid = check_group(own, sender, group, msg)
    assert ack == {"type": "ack", "id": id, "mid": mid, "status": "sent"}, ack
    return mid


def test_group_reaches_each_member_once_across_workers(make_daemon):
    """--sessions multi: alice has two member sessions (one per worker) and
    one session that did not join; bob and carol are members on different
    workers; dave is not a member. alice's message reaches alice1 (the
    sender), alice2, bob and carol once each, with the mid of the ack, and
    neither alice3 nor dave."""
    d = make_daemon(sessions="multi")

    async def body():
        (a1, _, w1), (a2, _, w2) = await connect_on_distinct_workers(d, ["alice", "alice"])
        bob, _ = await place(d, "bob", w2)
        carol, _ = await place(d, "carol", w1)
        a3, _ = await ws_connect(d, "alice")
        dave, _ = await ws_connect(d, "dave")
        marker, _ = await ws_connect(d, "marker")
        assert worker_of(d, a1) != worker_of(d, a2) and worker_of(d, bob) != worker_of(d, carol)
        for n, ws in enumerate((a1, a2, bob, carol)):
            await join(ws, "team", f"j{n}")

        mid = await send_group(a1, "alice", "team", {"n": 1}, "g1")
        for ws in (a2, bob, carol):
            assert check_group(await recv_json(ws), "alice", "team", {"n": 1}) == mid
        everyone = [(a1, "alice"), (a2, "alice"), (a3, "alice"), (bob, "bob"),
                    (carol, "carol"), (dave, "dave")]
        await markers(marker, "marker", everyone, "m1")

        # a member on the other worker sends: same fan-out
        mid = await send_group(bob, "bob", "team", [2, "two"], "g2")
        for ws in (a1, a2, carol):
            assert check_group(await recv_json(ws), "bob", "team", [2, "two"]) == mid
        await markers(marker, "marker", everyone, "m2")
    run(body())


def test_non_member_gets_not_member_and_nothing_is_sent(shared_daemon):
    d = shared_daemon
    g = uniq("grp")
    ua, bob_u, dave_u, mark_u = uniq("alice"), uniq("bob"), uniq("dave"), uniq("mark")

    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(d, [ua, bob_u])
        dave, _ = await ws_connect(d, dave_u)
        mark, _ = await ws_connect(d, mark_u)
        await join(alice, g, "ja")
        await join(bob, g, "jb")

        await send_json(dave, {"type": "group", "group": g, "msg": "let me in", "id": "nm1"})
        check_error(await recv_json(dave), "not_member", id="nm1")
        await send_json(dave, {"type": "group", "group": g, "msg": "no id"})
        check_error(await recv_json(dave), "not_member")
        # a group nobody joined: same answer
        await send_json(dave, {"type": "group", "group": uniq("empty"), "msg": 1, "id": "nm2"})
        check_error(await recv_json(dave), "not_member", id="nm2")
        await markers(mark, mark_u, [(alice, ua), (bob, bob_u), (dave, dave_u)], "after-nm")
        # the members' group still works, and dave still gets nothing
        mid = await send_group(alice, ua, g, "members only", "g1")
        assert check_group(await recv_json(bob), ua, g, "members only") == mid
        await markers(mark, mark_u, [(alice, ua), (bob, bob_u), (dave, dave_u)], "after-g1")
    run(body())


def test_join_leave_idempotent_and_leave_stops_delivery(shared_daemon):
    """bob joins twice and gets one copy; leaves (twice, and a group he is not
    in) and gets nothing more, while carol, a member on bob's worker, still
    does; a leave without an id is not acked; a rejoin works."""
    d = shared_daemon
    g, other = uniq("grp"), uniq("never")
    ua, ub, uc, um = uniq("alice"), uniq("bob"), uniq("carol"), uniq("mark")

    async def body():
        (alice, _, _), (bob, _, wb) = await connect_on_distinct_workers(d, [ua, ub])
        carol, _ = await place(d, uc, wb)
        mark, _ = await ws_connect(d, um)
        await join(alice, g, "ja")
        await join(carol, g, "jc")
        await join(bob, g, "jb1")
        await join(bob, g, "jb2")           # again: still joined, no error
        mid = await send_group(alice, ua, g, "once", "g1")
        for ws in (bob, carol):
            assert check_group(await recv_json(ws), ua, g, "once") == mid
        everyone = [(alice, ua), (bob, ub), (carol, uc)]
        await markers(mark, um, everyone, "one-copy")    # not twice

        await leave(bob, other, "l0")       # a group bob is not in
        await leave(bob, g, "l1")
        await leave(bob, g, "l2")           # again
        mid = await send_group(alice, ua, g, "after leave", "g2")
        assert check_group(await recv_json(carol), ua, g, "after leave") == mid
        await markers(mark, um, everyone, "left")

        # leave without an id: no ack at all; join again: delivery resumes
        await join(bob, g, "jb3")
        await send_json(bob, {"type": "leave", "group": g})
        await markers(mark, um, [(bob, ub)], "no-ack")
        # the marker came through the bus, which says nothing of bob's own frames (a worker
        # woken by the bus between turns writes before it reads its clients): an ack to a
        # frame bob sent after the leave says the leave was taken
        await leave(bob, other, "l3")
        mid = await send_group(alice, ua, g, "after silent leave", "g3")
        assert check_group(await recv_json(carol), ua, g, "after silent leave") == mid
        await markers(mark, um, everyone, "left-again")
        await join(bob, g, "jb4")
        mid = await send_group(alice, ua, g, "back", "g4")
        for ws in (bob, carol):
            assert check_group(await recv_json(ws), ua, g, "back") == mid
        await markers(mark, um, everyone, "back")
    run(body())


def test_disconnect_ends_membership(shared_daemon):
    """bob is a member and disconnects: his next session (on the same worker,
    to catch a membership kept per user on that worker) is in no group until
    it joins again; carol, a member on that worker, is not affected."""
    d = shared_daemon
    g = uniq("grp")
    ua, ub, uc, um = uniq("alice"), uniq("bob"), uniq("carol"), uniq("mark")

    async def body():
        (alice, _, _), (bob, _, wb) = await connect_on_distinct_workers(d, [ua, ub])
        carol, _ = await place(d, uc, wb)
        mark, _ = await ws_connect(d, um)
        await join(alice, g, "ja")
        await join(bob, g, "jb")
        await join(carol, g, "jc")
        mid = await send_group(alice, ua, g, "before", "g1")
        for ws in (bob, carol):
            assert check_group(await recv_json(ws), ua, g, "before") == mid

        await asyncio.wait_for(bob.close(), WAIT)
        assert await wait_closed(bob) == 1000
        mid = await send_group(alice, ua, g, "while away", "g2")
        assert check_group(await recv_json(carol), ua, g, "while away") == mid
        bob2, _ = await place(d, ub, wb)
        mid = await send_group(alice, ua, g, "not for the new session", "g3")
        assert check_group(await recv_json(carol), ua, g, "not for the new session") == mid
        await markers(mark, um, [(alice, ua), (bob2, ub), (carol, uc)], "no-membership")
        await send_json(bob2, {"type": "group", "group": g, "msg": "me?", "id": "nm"})
        check_error(await recv_json(bob2), "not_member", id="nm")

        await join(bob2, g, "jb2")
        mid = await send_group(alice, ua, g, "rejoined", "g4")
        for ws in (bob2, carol):
            assert check_group(await recv_json(ws), ua, g, "rejoined") == mid
        await markers(mark, um, [(alice, ua), (bob2, ub), (carol, uc)], "once")
    run(body())


def test_max_groups(make_daemon):
    """--max-groups 2: a third group is too_many (with its id); re-joining a
    group one is in is not a new group; after a leave there is room again;
    the limit is per session."""
    d = make_daemon(max_groups=2)

    async def body():
        alice, _ = await ws_connect(d, "alice")
        bob, _ = await ws_connect(d, "bob")
        await join(alice, "g1", "j1")
        await join(alice, "g2", "j2")
        await send_json(alice, {"type": "join", "group": "g3", "id": "j3"})
        check_error(await recv_json(alice), "too_many", id="j3")
        await join(alice, "g1", "j1b")       # already a member: fine
        # the refused join left no membership behind
        await join(bob, "g3", "jb3")
        await send_json(alice, {"type": "group", "group": "g3", "msg": "x", "id": "s3"})
        check_error(await recv_json(alice), "not_member", id="s3")
        # another session has its own budget
        await join(bob, "g1", "jb1")
        await leave(alice, "g2", "l2")
        await join(alice, "g3", "j3b")
        mid = await send_group(bob, "bob", "g3", "room again", "s4")
        assert check_group(await recv_json(alice), "bob", "g3", "room again") == mid
    run(body())
