"""05 — frame level: message size limit, ping/pong, the closing handshake,
invalid UTF-8."""
import asyncio
import json

import pytest
import websockets
from websockets.frames import OP_TEXT, Close

from conftest import WAIT, assert_usable, recv_json, recv_n, run, uniq, wait_closed, ws_connect


def padded_chat(receiver, size, id):
    """A chat frame whose JSON text is exactly `size` bytes (ASCII)."""
    base = json.dumps({"type": "chat", "receiver": receiver, "id": id, "msg": ""})
    text = json.dumps({"type": "chat", "receiver": receiver, "id": id,
                       "msg": "x" * (size - len(base))})
    assert len(text.encode()) == size
    return text


def _split3(text):
    k = len(text) // 3
    return [text[:k], text[k:2 * k], text[2 * k:]]


@pytest.mark.parametrize("fragmented", [False, True], ids=["whole", "fragmented"])
def test_max_message(make_daemon, fragmented):
    """--max-message 1000: exactly 1000 bytes is processed (acked, and the
    larger stamped echo comes back); 1001 bytes closes with 1009. Fragmented:
    the limit is on the reassembled message."""
    d = make_daemon(max_message=1000)

    async def body():
        ws, _ = await ws_connect(d, "alice")
        text = padded_chat("alice", 1000, "big")
        await ws.send(_split3(text) if fragmented else text)
        frames = await recv_n(ws, 2)
        kinds = {f["type"]: f for f in frames}
        assert set(kinds) == {"ack", "chat"}, frames
        assert kinds["ack"].get("status") == "delivered", kinds["ack"]
        assert kinds["chat"]["msg"] == json.loads(text)["msg"]
        text = padded_chat("alice", 1001, "too-big")
        await ws.send(_split3(text) if fragmented else text)
        code = await wait_closed(ws)
        assert code == 1009, f"1001 bytes: closed with {code}, expected 1009"
    run(body())


def test_ping_gets_pong(daemon):
    async def body():
        ws, _ = await ws_connect(daemon, "alice")
        for payload in (None, b"", b"hello", b"p" * 125):
            waiter = await ws.ping(payload)
            await asyncio.wait_for(waiter, WAIT)
        await assert_usable(ws, "alice", "after-ping")
    run(body())


@pytest.mark.parametrize("code", [1000, 3000, 4999])
def test_close_echoes_code(shared_daemon, code):
    """A client close is answered with the same code, then the server ends TCP."""
    async def body():
        ws, _ = await ws_connect(shared_daemon, uniq("close"))
        await asyncio.wait_for(ws.close(code=code, reason="bye"), WAIT)
        assert ws.close_code == code, f"answered {ws.close_code}, expected {code}"
        assert ws.closed
    run(body())


def test_close_without_code_answered_without_code(shared_daemon):
    """An empty close frame is answered with an empty one (RFC 6455 5.5.1)."""
    async def body():
        ws, _ = await ws_connect(shared_daemon, uniq("close"))
        await asyncio.wait_for(ws.write_close_frame(Close(1005, ""), b""), WAIT)
        code = await wait_closed(ws)
        assert code == 1005, f"answered {code}, expected an empty close (1005)"
    run(body())


def test_invalid_utf8_closes_1007(shared_daemon):
    async def body():
        ws, _ = await ws_connect(shared_daemon, uniq("utf"))
        await asyncio.wait_for(ws.write_frame(True, OP_TEXT, b'{"msg":"\xff\xfe"}'), WAIT)
        code = await wait_closed(ws)
        assert code == 1007, f"closed with {code}, expected 1007"
    run(body())


def test_frames_before_welcome_processed_in_order(daemon):
    """A client should wait for welcome, but frames it sends earlier (here two
    self chats sent right after the 101) are processed, in order, once the
    route is live; welcome still comes first."""
    async def body():
        ws = await asyncio.wait_for(websockets.connect(
            f"ws://127.0.0.1:{daemon.port}/ws/early", ping_interval=None,
            close_timeout=3), WAIT)
        try:
            await ws.send(json.dumps({"type": "chat", "receiver": "early", "msg": 1, "id": "e1"}))
            await ws.send(json.dumps({"type": "chat", "receiver": "early", "msg": 2, "id": "e2"}))
            first = await recv_json(ws)
            assert first.get("type") == "welcome", f"first frame {first}"
            frames = await recv_n(ws, 4)
            chats = [f["msg"] for f in frames if f["type"] == "chat"]
            acks = [f["id"] for f in frames if f["type"] == "ack"]
            assert chats == [1, 2] and acks == ["e1", "e2"], frames
        finally:
            ws.transport.abort()
    run(body())


def test_server_close_then_server_ends_tcp(daemon):
    """After a close the server started (4001 replaced, 1001 shutdown) and the
    client's answering close frame, the server closes TCP at once (RFC 6455
    7.1.1), not after a timer: the client is closed within 1 s of the trigger.
    (The client library waits up to 10 s here, so a lingering server shows.)"""
    async def body():
        loop = asyncio.get_running_loop()
        old, _ = await ws_connect(daemon, "alice", close_timeout=10)
        t0 = loop.time()
        new, _ = await ws_connect(daemon, "alice", close_timeout=10)
        assert await wait_closed(old, timeout=12) == 4001
        took = loop.time() - t0
        assert took < 1.0, f"4001: TCP closed {took:.2f} s after the replacing login"
        t0 = loop.time()
        stop = asyncio.ensure_future(asyncio.to_thread(daemon.stop))
        assert await wait_closed(new, timeout=12) == 1001
        took = loop.time() - t0
        assert await stop == 0
        assert took < 1.0, f"1001: TCP closed {took:.2f} s after SIGTERM"
    run(body())
