"""12 — zwsd-send, the reference client of the ZeroMQ backend path: it
publishes straight to the broker's publish endpoint (ipc://RUNTIME/pub of
the embedded broker), and clients receive the message as from the API.

Exit codes (zwsd-send(1)): 0 sent (the mid on stdout), 2 usage errors,
1 when no broker answers (it waits 5 s for one: that case runs once)."""
import asyncio
import os
import subprocess
import tempfile

import pytest

from conftest import BUILD, RFC3339_MS, connect_on_distinct_workers, recv_json, run, \
    send_json, ws_connect

ZWSD_SEND = os.path.join(BUILD, "zwsd-send")


def zwsd_send(*args, timeout=15):
    return subprocess.run([ZWSD_SEND, *args], capture_output=True, text=True, timeout=timeout)


async def azwsd_send(*args):
    return await asyncio.to_thread(zwsd_send, *args)


def broker_pub(d):
    return f"ipc://{d.tmpdir}/pub"


def check_sent(p):
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr}"
    mid = p.stdout.strip()
    assert mid and "\n" not in mid, p.stdout
    return mid


def check_frame(frame, kind, sender, msg, mid, **fields):
    assert frame.get("type") == kind, frame
    assert frame.get("sender") == sender, frame
    assert frame.get("msg") == msg and type(frame["msg"]) is type(msg), frame
    assert frame.get("mid") == mid, f"frame mid {frame.get('mid')} != printed {mid}"
    assert RFC3339_MS.match(frame.get("createTime", "")), frame
    for k, v in fields.items():
        assert frame.get(k) == v, frame


def test_send_to_user(make_daemon):
    d = make_daemon(sessions="multi")

    async def body():
        (b1, _, _), (b2, _, _) = await connect_on_distinct_workers(d, ["bob", "bob"])
        mid = check_sent(await azwsd_send("--broker", broker_pub(d), "--to", "bob",
                                          "--msg", '{"progress":40}'))
        for ws in (b1, b2):
            check_frame(await recv_json(ws), "chat", "system", {"progress": 40}, mid,
                        receiver="bob")
        mid = check_sent(await azwsd_send("--broker", broker_pub(d), "--to", "bob",
                                          "--msg", '"done"', "--sender", "ci-runner"))
        for ws in (b1, b2):
            check_frame(await recv_json(ws), "chat", "ci-runner", "done", mid, receiver="bob")
    run(body())


def test_send_to_group_and_broadcast(make_daemon):
    d = make_daemon()

    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(d, ["alice", "bob"])
        carol, _ = await ws_connect(d, "carol")
        for ws, id in ((alice, "j1"), (bob, "j2")):
            await send_json(ws, {"type": "join", "group": "builds", "id": id})
            assert (await recv_json(ws)).get("status") == "joined"
        mid = check_sent(await azwsd_send("--broker", broker_pub(d), "--group", "builds",
                                          "--msg", '[1, {"ok": true}]'))
        for ws in (alice, bob):
            check_frame(await recv_json(ws), "group", "system", [1, {"ok": True}], mid,
                        group="builds")
        mid = check_sent(await azwsd_send("--broker", broker_pub(d), "--broadcast",
                                          "--msg", "null"))
        for ws in (alice, bob, carol):      # carol, not a member, sees only this one
            check_frame(await recv_json(ws), "broadcast", "system", None, mid)
    run(body())


@pytest.mark.parametrize("args", [
    [],
    ["--msg", "1"],                                         # no target
    ["--to", "bob", "--group", "g", "--msg", "1"],          # two targets
    ["--to", "bob", "--broadcast", "--msg", "1"],
    ["--to", "bob"],                                        # no msg
    ["--to", "bob", "--msg", "{nope"],                      # invalid JSON
    ["--to", "bob", "--msg", ""],
    ["--to", "a b", "--msg", "1"],                          # invalid names
    ["--group", "x" * 65, "--msg", "1"],
    ["--to", "bob", "--msg", "1", "--sender", "no/pe"],
    ["--to", "bob", "--msg", "1", "--bogus"],
], ids=["nothing", "no-target", "to-and-group", "to-and-broadcast", "no-msg", "bad-json",
        "empty-json", "bad-user", "group-65", "bad-sender", "unknown-option"])
def test_usage_errors_exit_2(args):
    with tempfile.TemporaryDirectory(prefix="zws") as tmp:
        p = zwsd_send("--broker", f"ipc://{tmp}/pub", *args, timeout=10)
    assert p.returncode == 2, f"{args}: exit {p.returncode}, stderr {p.stderr!r}"
    assert p.stderr.strip() and p.stdout == "", (p.stdout, p.stderr)


def test_no_broker_exit_1():
    """Nothing listens at the endpoint: exit 1 after the 5 s wait."""
    with tempfile.TemporaryDirectory(prefix="zws") as tmp:
        p = zwsd_send("--broker", f"ipc://{tmp}/pub", "--to", "bob", "--msg", "{}", timeout=15)
    assert p.returncode == 1, f"exit {p.returncode}, stderr {p.stderr!r}"
    assert "broker" in p.stderr and p.stdout == "", (p.stdout, p.stderr)
