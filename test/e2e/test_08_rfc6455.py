"""08 — RFC 6455 protocol errors, over a raw socket: each gets a close frame
with its code (1002 protocol error, 1007 invalid UTF-8 in a close reason),
then the server ends TCP (5.5, 7.1.5, 7.1.7, 7.4.1), and the daemon keeps
serving everyone else. daemon/wsframe.c catches the header-level errors
before wslay sees the bytes, and takes the client's close frame (code and
reason) itself: wslay never sees one. Frames that came before the bad one,
in the same write, are still processed. Splits across reads are made with a
ping first: its pong shows the server has read that part."""
import json
import os
import socket
import struct

import pytest

from conftest import (WAIT, assert_usable, chat, check_chat, masked, raw_ws, recv_json, run,
                      uniq, upgrade_request, ws_connect)


def frame(b0, payload=b"", mask=True, form=None, length=None, with_payload=True):
    """A client frame with full control: first byte b0, the length in the
    form given (None: minimal; 126 or 127 forced) with value `length`
    (default len(payload)), masked or not."""
    n = len(payload) if length is None else length
    if form is None:
        form = 0 if n < 126 else 126 if n < 65536 else 127
    m = 0x80 if mask else 0
    if form == 0:
        head = bytes([b0, m | n])
    elif form == 126:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + (payload if with_payload else b"")
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if with_payload else b""
    return head + key + body


def close(code, reason=b""):
    return masked(0x8, struct.pack("!H", code) + reason)


class Raw:
    """A raw upgraded client socket and what it has read but not used."""

    def __init__(self, s, buf=b""):
        self.s, self.buf = s, buf
        self.s.settimeout(WAIT)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            assert chunk, f"TCP closed mid-frame after {self.buf[:40]!r}"
            self.buf += chunk

    def frame(self):
        """The next server frame: (opcode, payload). Server frames are
        unmasked and never fragmented here."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "server frames must not be masked"
        assert b0 & 0x80, f"server frame not final: {b0:#x}"
        l7 = b1 & 0x7F
        hdr = 2 + (2 if l7 == 126 else 8 if l7 == 127 else 0)
        self._need(hdr)
        n = l7 if l7 < 126 else int.from_bytes(self.buf[2:hdr], "big")
        self._need(hdr + n)
        payload, self.buf = self.buf[hdr:hdr + n], self.buf[hdr + n:]
        return b0 & 0x0F, payload

    def welcome(self):
        op, payload = self.frame()
        assert op == 0x1 and json.loads(payload).get("type") == "welcome", (op, payload)

    def close_then_eof(self):
        """Read until the server's close frame, then until EOF: nothing may
        follow the close frame. Returns (code or None, reason, text frames
        read before the close)."""
        texts = []
        while True:
            op, payload = self.frame()
            if op == 0x8:
                break
            if op == 0x1:
                texts.append(json.loads(payload))
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        rest = self.buf
        while True:
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                raise AssertionError(f"TCP still open {WAIT} s after the close frame") from None
            if not chunk:
                break
            rest += chunk
        assert rest == b"", f"bytes after the close frame: {rest[:60]!r}"
        self.s.close()
        return code, payload[2:], texts


def connect_raw(daemon, user):
    """Upgraded, welcome read: the conn is open and reads the socket."""
    r = Raw(raw_ws(daemon, user))
    r.welcome()
    return r


CASES = {
    # header-level errors that wslay answered with a bare TCP close, or a
    # close without code (issue 14 item 2)
    "ping_len_126": (masked(0x9, b"p" * 126), 1002),
    "pong_len_64bit": (frame(0x8A, b"p" * 65536), 1002),
    "fragmented_ping": (masked(0x9, b"p", fin=False), 1002),
    "close_1_byte": (masked(0x8, b"\x03"), 1002),
    "length_top_bit": (frame(0x82, form=127, length=1 << 63, with_payload=False), 1002),
    "length_not_minimal": (frame(0x81, b"{}", form=126), 1002),
    # the rest of the header rules
    "reserved_opcode_3": (masked(0x3, b"x"), 1002),
    "reserved_opcode_7": (masked(0x7, b""), 1002),
    "reserved_control_b": (masked(0xB, b""), 1002),
    "reserved_control_f": (masked(0xF, b"x"), 1002),
    "rsv1": (frame(0xC1, b"{}"), 1002),
    "rsv2": (frame(0xA1, b"{}"), 1002),
    "rsv3": (frame(0x91, b"{}"), 1002),
    "unmasked": (frame(0x81, b"{}", mask=False), 1002),
    "unmasked_ping": (frame(0x89, b"", mask=False), 1002),
    "continuation_of_nothing": (masked(0x0, b"x"), 1002),
    "message_inside_message": (masked(0x1, b"{", fin=False) + masked(0x1, b"{}"), 1002),
    # close payloads: the code's range and the reason's UTF-8 (wsframe)
    "close_code_0": (close(0), 1002),
    "close_code_999": (close(999), 1002),
    "close_code_1004": (close(1004), 1002),
    "close_code_1005": (close(1005), 1002),
    "close_code_1006": (close(1006), 1002),
    "close_code_1015": (close(1015), 1002),
    "close_code_2999": (close(2999), 1002),
    "close_code_1016": (close(1016), 1002),
    "close_code_2000": (close(2000), 1002),
    "close_code_5000": (close(5000), 1002),
    "close_code_65535": (close(65535), 1002),
    "close_reason_bad_utf8": (close(1000, b"bye \xff\xfe"), 1007),
    "close_reason_cut_utf8": (close(1000, b"ok \xe6\x97"), 1007),
    "close_reason_surrogate": (close(1000, b"\xed\xa0\x80"), 1007),
    "close_reason_overlong": (close(1000, b"\xc0\xaf"), 1007),
}


@pytest.mark.parametrize("case", list(CASES))
def test_protocol_error_closes_with_code(shared_daemon, case):
    data, want = CASES[case]
    d = shared_daemon

    async def body():
        user = uniq("ok")
        other, _ = await ws_connect(d, user)
        r = connect_raw(d, uniq("bad"))
        r.s.sendall(data)
        code, _, texts = r.close_then_eof()
        assert code == want, f"{case}: closed with {code}, expected {want}"
        assert texts == [], f"{case}: unexpected frames before the close: {texts}"
        await assert_usable(other, user, "after-" + case.replace("_", "-"))
    run(body())


def test_frames_before_the_bad_one_are_processed(shared_daemon):
    """A chat, then a ping of 126 bytes, in one write: the chat is handled
    (its receiver gets it; the sender's ack would come after the close, so
    it is not sent), then the close 1002 and the end of TCP."""
    async def body():
        to = uniq("to")
        other, _ = await ws_connect(shared_daemon, to)
        sender = uniq("before")
        r = connect_raw(shared_daemon, sender)
        r.s.sendall(masked(0x1, chat(to, "first", id="c1").encode())
                    + masked(0x9, b"p" * 126))
        code, _, _ = r.close_then_eof()
        assert code == 1002, code
        check_chat(await recv_json(other), sender, to, "first")
    run(body())


def test_an_error_wslay_found_first_keeps_its_code(shared_daemon):
    """Invalid UTF-8 in a text message (wslay's 1007), then a fragmented
    ping, in one write: the first error decides the code."""
    r = connect_raw(shared_daemon, uniq("first"))
    r.s.sendall(masked(0x1, b'{"msg":"\xff"}') + masked(0x9, b"p", fin=False))
    code, _, texts = r.close_then_eof()
    assert code == 1007 and texts == [], (code, texts)


def test_bad_frame_with_the_upgrade(shared_daemon):
    """A bad frame in the same write as the HTTP head (kept until the session
    is open): welcome, then the close 1002, then the end of TCP."""
    user = uniq("early")
    s = socket.create_connection(("127.0.0.1", shared_daemon.port), timeout=WAIT)
    s.sendall(upgrade_request(shared_daemon.port, path=f"/ws/{user}")
              + masked(0x9, b"p", fin=False))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, f"closed during the upgrade: {buf!r}"
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    r = Raw(s, rest)
    r.welcome()
    code, _, texts = r.close_then_eof()
    assert code == 1002 and texts == [], (code, texts)


def test_fragments_with_control_frames_between_are_fine(shared_daemon):
    """Allowed: a ping and a pong between the fragments of a text message.
    The ping is answered, the message is processed, the conn stays open."""
    user = uniq("frag")
    r = connect_raw(shared_daemon, user)
    text = chat(user, "in three parts", id="f1").encode()
    a, b, c = text[:10], text[10:20], text[20:]
    r.s.sendall(masked(0x1, a, fin=False) + masked(0x9, b"hi") + masked(0x0, b, fin=False)
                + masked(0xA, b"") + masked(0x0, c))
    got = []
    while len(got) < 3:
        got.append(r.frame())
    assert (0xA, b"hi") in got, got
    texts = [json.loads(p) for op, p in got if op == 0x1]
    assert sorted(t["type"] for t in texts) == ["ack", "chat"], texts
    # still open and well-behaved: a client close is echoed, then TCP ends
    r.s.sendall(close(1000, "done \u00e9".encode()))
    code, reason, _ = r.close_then_eof()
    assert code == 1000, code


def test_close_reason_utf8_is_echoed(shared_daemon):
    """A close whose reason is valid multi-byte UTF-8 is answered with the
    same code (RFC 6455 5.5.1), not 1007."""
    r = connect_raw(shared_daemon, uniq("bye"))
    r.s.sendall(close(4000, "\u65e5\u672c \U0001d11e".encode()))
    code, _, _ = r.close_then_eof()
    assert code == 4000, code


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1008, 1009, 1010, 1011,
                                  1012, 1013, 1014, 3000, 4999])
def test_close_codes_a_client_may_send_are_echoed(shared_daemon, code):
    """Every code a client may send is answered with the same code, 1012-1014
    (registered with IANA) too, which wslay would refuse with 1002."""
    r = connect_raw(shared_daemon, uniq("code"))
    r.s.sendall(close(code, b"bye"))
    got, _, _ = r.close_then_eof()
    assert got == code, (code, got)


def test_close_without_code_is_answered_without_code(shared_daemon):
    """An empty close payload gets an empty close back (RFC 6455 5.5.1)."""
    r = connect_raw(shared_daemon, uniq("nocode"))
    r.s.sendall(masked(0x8, b""))
    got, reason, _ = r.close_then_eof()
    assert got is None and reason == b"", (got, reason)


def send_split(r, data, cut):
    """data[:cut] behind a ping, and once its pong is back (the server has
    read that part), the rest."""
    r.s.sendall(masked(0x9, b"sync") + data[:cut])
    while True:
        op, payload = r.frame()
        if op == 0xA:
            assert payload == b"sync", payload
            break
        assert op != 0x8, f"closed before the rest was sent: {payload!r}"
    r.s.sendall(data[cut:])


@pytest.mark.parametrize("reason,cut", [("a\u00e9".encode(), 10),     # after the lead byte
                                        ("a\u00e9bcd".encode(), 10),
                                        ("\u65e5\u672c".encode(), 9)])
def test_close_reason_split_across_reads_is_echoed(shared_daemon, reason, cut):
    """A valid UTF-8 reason cut across reads (header 6, code 2, then the
    reason): echoed, not 1007. wslay checks each read on its own, skipping
    its first two bytes, and answered these 1007."""
    r = connect_raw(shared_daemon, uniq("split"))
    send_split(r, close(1000, reason), cut)
    got, _, _ = r.close_then_eof()
    assert got == 1000, got


def test_bad_close_reason_split_across_reads_is_1007(shared_daemon):
    """The invalid byte starts the second read: wslay skipped it; 1007."""
    r = connect_raw(shared_daemon, uniq("splitbad"))
    send_split(r, close(1000, b"ab\xff"), 10)
    got, _, _ = r.close_then_eof()
    assert got == 1007, got


def test_bad_header_split_across_reads_is_1002(shared_daemon):
    """The first two bytes of a ping with a 126-byte length, alone in a
    read: already a protocol error (wslay judged those two bytes with a
    bare TCP close); the close 1002 comes before the rest is sent."""
    r = connect_raw(shared_daemon, uniq("splithdr"))
    r.s.sendall(masked(0x9, b"sync") + masked(0x9, b"p" * 126)[:2])
    got, _, _ = r.close_then_eof()
    assert got == 1002, got
