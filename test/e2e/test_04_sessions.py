"""04 — sessions of one user: single (default, a new login closes the old one
with 4001, on the same worker or across workers) and --sessions multi."""
import asyncio

from conftest import (assert_usable, chat, check_chat, connect_on_distinct_workers, recv_json,
                      recv_n, run, wait_closed, worker_of, ws_connect)


def test_single_session_newer_login_replaces_older(daemon):
    """Log alice in again and again until both cases have been seen: the new
    session on the same worker as the old one, and on the other worker. Each
    time the old connection is closed with 4001, and the new one receives
    chats and can send."""
    async def body():
        bob, _ = await ws_connect(daemon, "bob")
        cur, _ = await ws_connect(daemon, "alice")
        cur_pid = worker_of(daemon, cur)
        seen = {}
        for n in range(1, 51):
            new, welcome = await ws_connect(daemon, "alice")
            new_pid = worker_of(daemon, new)
            case = "same worker" if new_pid == cur_pid else "other worker"
            code = await wait_closed(cur)
            assert code == 4001, f"login {n} ({case}): old session closed with {code}, not 4001"
            await bob.send(chat("alice", f"hi {n}", id=f"b{n}"))
            got, ack = await asyncio.gather(recv_json(new), recv_json(bob))
            mid = check_chat(got, "bob", "alice", f"hi {n}")
            assert ack == {"type": "ack", "id": f"b{n}", "mid": mid, "status": "delivered"}, \
                f"login {n} ({case}): {ack}"
            await assert_usable(new, "alice", f"self-{n}-{case.split()[0]}")
            seen[case] = seen.get(case, 0) + 1
            cur, cur_pid = new, new_pid
            if len(seen) == 2:
                break
        assert len(seen) == 2, f"only saw {seen} in 50 logins"
    run(body())


def test_multi_sessions_all_receive(make_daemon):
    """--sessions multi: two logins of alice on different workers both stay;
    a chat to alice reaches both (same mid); a chat to oneself reaches both,
    the sending session included."""
    d = make_daemon(sessions="multi")

    async def body():
        (a1, w1, p1), (a2, w2, p2) = await connect_on_distinct_workers(d, ["alice", "alice"])
        assert p1 != p2 and w1["session"] != w2["session"]
        a3, w3 = await ws_connect(d, "alice")      # a third, on either worker
        bob, _ = await ws_connect(d, "bob")
        await bob.send(chat("alice", {"to": "all"}, id="m1"))
        frames = await asyncio.gather(recv_json(a1), recv_json(a2), recv_json(a3))
        mids = {check_chat(f, "bob", "alice", {"to": "all"}) for f in frames}
        assert len(mids) == 1, f"the sessions got different mids {mids}"
        ack = await recv_json(bob)
        assert ack == {"type": "ack", "id": "m1", "mid": mids.pop(), "status": "delivered"}
        # to oneself, from the session on the first worker
        await a1.send(chat("alice", "me too", id="m2"))
        first = await recv_n(a1, 2)
        assert sorted(f["type"] for f in first) == ["ack", "chat"], first
        ack = next(f for f in first if f["type"] == "ack")
        assert ack.get("status") == "delivered" and ack.get("id") == "m2", ack
        for ws in (a2, a3):
            check_chat(await recv_json(ws), "alice", "alice", "me too")
        assert a1.open and a2.open and a3.open
    run(body())
