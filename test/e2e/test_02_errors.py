"""02 — bad frames: each gets an error frame and the connection stays usable.

One shared daemon for the module (shared_daemon): a test fails if a worker
process changed while it ran, so a frame that crashes a worker is caught by the
test that sent it.
"""
import json

import pytest

from conftest import WAIT, assert_usable, check_error, recv_json, run, uniq, ws_connect

J = json.dumps

# (id for the report, text frame, error code, id echoed or None)
CASES = [
    ("not-json", "not json {", "bad_json", None),
    ("truncated-json", '{"type":"chat","receiver":"bob","msg":', "bad_json", None),
    ("empty-text", "", "bad_json", None),
    ("trailing-garbage", '{"receiver":"bob","msg":1} x', "bad_json", None),
    ("array", "[1]", "bad_request", None),
    ("string", '"x"', "bad_request", None),
    ("number", "42", "bad_request", None),
    ("null", "null", "bad_request", None),
    ("empty-object", "{}", "bad_request", None),
    ("no-type-no-receiver", J({"msg": "x", "id": "n1"}), "bad_request", "n1"),
    ("chat-no-receiver", J({"type": "chat", "msg": "hi", "id": "e1"}), "bad_request", "e1"),
    ("receiver-space", J({"type": "chat", "receiver": "a b", "msg": 1, "id": "e2"}),
     "bad_request", "e2"),
    ("receiver-65", J({"type": "chat", "receiver": "r" * 65, "msg": 1, "id": "e3"}),
     "bad_request", "e3"),
    ("receiver-empty", J({"type": "chat", "receiver": "", "msg": 1, "id": "e4"}),
     "bad_request", "e4"),
    ("receiver-slash", J({"type": "chat", "receiver": "a/b", "msg": 1, "id": "e5"}),
     "bad_request", "e5"),
    ("receiver-non-ascii", J({"type": "chat", "receiver": "é", "msg": 1, "id": "e6"}),
     "bad_request", "e6"),
    ("receiver-number", J({"type": "chat", "receiver": 5, "msg": 1, "id": "e7"}),
     "bad_request", "e7"),
    ("receiver-null", J({"type": "chat", "receiver": None, "msg": 1, "id": "e8"}),
     "bad_request", "e8"),
    ("id-number", J({"type": "chat", "receiver": "bob", "msg": 1, "id": 7}), "bad_request", None),
    ("id-null", J({"type": "chat", "receiver": "bob", "msg": 1, "id": None}), "bad_request", None),
    ("id-empty", J({"type": "chat", "receiver": "bob", "msg": 1, "id": ""}), "bad_request", None),
    ("id-65", J({"type": "chat", "receiver": "bob", "msg": 1, "id": "i" * 65}),
     "bad_request", None),
    ("id-space", J({"type": "chat", "receiver": "bob", "msg": 1, "id": "a b"}),
     "bad_request", None),
    ("id-tab", J({"type": "chat", "receiver": "bob", "msg": 1, "id": "a\tb"}),
     "bad_request", None),
    ("id-non-ascii", J({"type": "chat", "receiver": "bob", "msg": 1, "id": "é"}),
     "bad_request", None),
    ("id-array", J({"type": "chat", "receiver": "bob", "msg": 1, "id": ["x"]}),
     "bad_request", None),
    ("unknown-type", J({"type": "foo", "receiver": "bob", "msg": 1, "id": "u1"}),
     "unknown_type", "u1"),
    ("type-number", J({"type": 5, "receiver": "bob", "msg": 1, "id": "t1"}), "bad_request", "t1"),
    ("msg-missing", J({"type": "chat", "receiver": "bob", "id": "m1"}), "bad_request", "m1"),
    ("msg-missing-default-type", J({"receiver": "bob", "id": "m2"}), "bad_request", "m2"),
]


@pytest.mark.parametrize("text,code,rid", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_frame_gets_error_and_connection_stays_usable(shared_daemon, text, code, rid):
    async def body():
        user = uniq("err")
        ws, _ = await ws_connect(shared_daemon, user)
        await ws.send(text)
        check_error(await recv_json(ws), code, rid)
        await assert_usable(ws, user, "after")
    run(body())


def test_binary_frame_unsupported(shared_daemon):
    async def body():
        user = uniq("bin")
        ws, _ = await ws_connect(shared_daemon, user)
        await ws.send(b"\x00\x01\x02\xff")
        check_error(await recv_json(ws), "unsupported", None)
        # even when the bytes are a valid chat
        await ws.send(json.dumps({"type": "chat", "receiver": user, "msg": 1}).encode())
        check_error(await recv_json(ws), "unsupported", None)
        await assert_usable(ws, user, "after-binary")
    run(body())


def test_errors_in_a_row_answered_in_order(shared_daemon):
    """Every bad frame of a burst is answered, in order, and the connection
    still works afterwards."""
    async def body():
        user = uniq("burst")
        ws, _ = await ws_connect(shared_daemon, user)
        for _, text, _, _ in CASES:
            await ws.send(text)
        for name, _, code, rid in CASES:
            frame = await recv_json(ws, timeout=WAIT)
            assert frame.get("code") == code and frame.get("id") == rid, f"{name}: {frame}"
        await assert_usable(ws, user, "after-burst")
    run(body())
