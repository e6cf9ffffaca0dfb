"""40 — who may connect (zwsd-protocol(7) "Connecting", zwsd(8)
"Authentication"): the JWT matrix over raw upgrades, each status with its
body and headers, for HS256, RS256 and ES256 keys; the alg confusion; the
flags that cannot be combined; the token's deadline closing the session with
4003, and the `refresh` frame that moves it, accepted and refused; the
Origin allow-list. Tokens come from PyJWT (Debian's python3-jwt) and keys
from python3-cryptography, made at test time; unsigned and forged tokens are
built by hand."""
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import tempfile
import time

import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import (WAIT, ZWSD, assert_usable, check_error, parse_http, raw_http, recv_json,
                      run, send_json, started_daemon, uniq, upgrade_request, wait_closed,
                      ws_connect, ws_url)
from test_10_api import api_flags, api_port
from test_11_metrics import delta, scrape

SECRET = b"zwsd-e2e-secret-of-at-least-32-bytes!!"
OTHER_SECRET = b"another-secret-also-32-bytes-long!!!!"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header, claims, sig=b""):
    """A token from a header and claims as given, with sig as its signature."""
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{h}.{p}.{b64url(sig)}"


def hs_forged(key_bytes, claims):
    """HS256 'signed' with any bytes as the secret (PyJWT refuses a PEM key)."""
    h = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64url(json.dumps(claims).encode())
    sig = hmac.new(key_bytes, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64url(sig)}"


def hs(claims, secret=SECRET, alg="HS256"):
    return jwt.encode(claims, secret, algorithm=alg)


def now():
    return int(time.time())


# --------------------------------------------------------------------------
# keys, written once per module

@pytest.fixture(scope="module")
def keys():
    d = tempfile.mkdtemp(prefix="zwjwt")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    paths = {"dir": d}

    def pub_pem(k):
        return k.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)

    def write(name, data):
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        paths[name] = path
        return path

    write("secret", SECRET + b"\n")
    write("rsa.pub", pub_pem(rsa_key))
    write("ec.pub", pub_pem(ec_key))
    write("short", b"too short\n")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    write("rsa1024.pub", pub_pem(small))
    write("rsa.key", rsa_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths["rsa"] = rsa_key
    paths["ec"] = ec_key
    paths["rsa_pub_pem"] = pub_pem(rsa_key)
    paths["ec_pub_pem"] = pub_pem(ec_key)
    yield paths
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)


@pytest.fixture(scope="module")
def _hs_daemon(request, keys):
    with started_daemon(request, ["--jwt-secret-file", keys["secret"]]) as d:
        yield d


@pytest.fixture
def hs_daemon(_hs_daemon, request):
    request.node._zwsd_daemons = [_hs_daemon]
    return _hs_daemon


# --------------------------------------------------------------------------
# raw upgrades

def upgrade(d, user, token=None, bearer=None, add=()):
    path = f"/ws/{user}" + (f"?token={token}" if token is not None else "")
    extra = list(add)
    if bearer is not None:
        extra.append(("Authorization", f"Bearer {bearer}"))
    req = upgrade_request(d.port, path=path, add=extra)
    return raw_http(d.port, req, until=b"\r\n\r\n", require_close=False)


def refused(d, user, status, body=None, **kw):
    """The upgrade is refused with status, a text/plain body, Connection:
    close, and the server closes the connection."""
    path = f"/ws/{user}" + (f"?token={kw['token']}" if kw.get("token") is not None else "")
    extra = list(kw.get("add", ()))
    if kw.get("bearer") is not None:
        extra.append(("Authorization", f"Bearer {kw['bearer']}"))
    resp = raw_http(d.port, upgrade_request(d.port, path=path, add=extra))   # must close
    got, headers, text = parse_http(resp)
    assert got == status, f"expected {status}: {resp[:300]!r}"
    assert "close" in headers.get("connection", "").lower(), headers
    assert headers.get("content-type", "").startswith("text/plain"), headers
    assert int(headers.get("content-length", -1)) == len(text), headers
    if body:
        assert body in text.decode(), text
    return headers


def accepted(d, user, **kw):
    resp = upgrade(d, user, **kw)
    got, _, _ = parse_http(resp.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
    assert got == 101, resp[:300]


# (id, token maker (called when the test runs: the clock matters), path
# user, status, body)
MATRIX = [
    ("missing", lambda: None, "bob", 401, "token missing"),
    ("empty", lambda: "", "bob", 401, "token malformed"),
    ("garbage", lambda: "abc", "bob", 401, "token malformed"),
    ("two-parts", lambda: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ", "bob", 401,
     "token malformed"),
    ("alg-none", lambda: raw_token({"alg": "none"}, {"sub": "bob"}), "bob", 401, "alg none"),
    ("alg-None", lambda: raw_token({"alg": "None", "typ": "JWT"}, {"sub": "bob"}), "bob", 401,
     "alg none"),
    ("hs512", lambda: hs({"sub": "bob"}, alg="HS512"), "bob", 401, "wrong token algorithm"),
    ("other-secret", lambda: hs({"sub": "bob"}, OTHER_SECRET), "bob", 401,
     "bad token signature"),
    ("forged-payload", lambda: (lambda good, bad: ".".join(
        [good.split(".")[0], bad.split(".")[1], good.split(".")[2]]))(
        hs({"sub": "eve"}), hs({"sub": "bob"})), "bob", 401, "bad token signature"),
    ("expired", lambda: hs({"sub": "bob", "exp": now() - 120}), "bob", 401, "token expired"),
    ("not-yet", lambda: hs({"sub": "bob", "nbf": now() + 3600}), "bob", 401, "not yet valid"),
    ("exp-not-a-number", lambda: hs({"sub": "bob", "exp": "soon"}), "bob", 401,
     "token malformed"),
    ("crit", lambda: jwt.encode({"sub": "bob"}, SECRET, algorithm="HS256",
                                headers={"crit": ["x"], "x": 1}), "bob", 401, "token malformed"),
    ("other-user", lambda: hs({"sub": "alice"}), "bob", 403, "another user"),
    ("prefix-user", lambda: hs({"sub": "bob"}), "bobby", 403, "another user"),
    ("no-sub", lambda: hs({"name": "bob"}), "bob", 403, "another user"),
]


@pytest.mark.parametrize("make,user,status,body", [m[1:] for m in MATRIX],
                         ids=[m[0] for m in MATRIX])
def test_auth_matrix_query(hs_daemon, make, user, status, body):
    token = make()
    headers = refused(hs_daemon, user, status, body, token=token)
    if status == 401:
        www = headers.get("www-authenticate", "")
        assert www.startswith("Bearer"), headers
        if token is None:
            assert www == "Bearer", headers
        else:
            assert 'error="invalid_token"' in www, headers
    else:
        assert "www-authenticate" not in headers, headers


@pytest.mark.parametrize("make,user,status,body", [m[1:] for m in MATRIX if m[0] != "missing"],
                         ids=[m[0] for m in MATRIX if m[0] != "missing"])
def test_auth_matrix_bearer(hs_daemon, make, user, status, body):
    refused(hs_daemon, user, status, body, bearer=make())


def test_valid_tokens_open_sessions(hs_daemon):
    async def body():
        u = uniq("jwtok")
        t = hs({"sub": u, "exp": now() + 600})
        ws, welcome = await ws_connect(hs_daemon, u + "?token=" + t)
        assert welcome["user"] == u, welcome
        await assert_usable(ws, u, "q1")
        u2 = uniq("jwtbearer")
        ws2, welcome = await ws_connect(hs_daemon, u2, extra_headers={
            "Authorization": "Bearer " + hs({"sub": u2})})       # no exp: fine
        assert welcome["user"] == u2
        await assert_usable(ws2, u2, "b1")
    run(body())
    # within the 30 s leeway, both ways
    u = uniq("jwtleeway")
    accepted(hs_daemon, u, token=hs({"sub": u, "exp": now() - 10, "nbf": now() + 10}))


def test_header_wins_over_query(hs_daemon):
    u = uniq("jwtboth")
    good = hs({"sub": u})
    accepted(hs_daemon, u, token="garbage", bearer=good)
    refused(hs_daemon, u, 401, "token malformed", token=good, bearer="garbage")
    # another scheme is ignored: the query's token counts
    accepted(hs_daemon, u, token=good, add=[("Authorization", "Basic Ym9iOmJvYg==")])


def test_refusals_counted(make_daemon, keys):
    d = make_daemon("--jwt-secret-file", keys["secret"], **api_flags())
    port = api_port(d)
    before = scrape(port)
    refused(d, "bob", 401)
    refused(d, "bob", 401, token=hs({"sub": "bob", "exp": now() - 100}))
    refused(d, "bob", 401, token=hs({"sub": "bob"}, OTHER_SECRET))
    refused(d, "bob", 403, token=hs({"sub": "eve"}))
    after = scrape(port)
    assert delta(before, after, "zwsd_auth_refusals_total", reason="missing") == 1
    assert delta(before, after, "zwsd_auth_refusals_total", reason="expired") == 1
    assert delta(before, after, "zwsd_auth_refusals_total", reason="signature") == 1
    assert delta(before, after, "zwsd_auth_refusals_total", reason="subject") == 1
    assert delta(before, after, "zwsd_handshakes_total", result="refused", status="401") == 3
    assert delta(before, after, "zwsd_handshakes_total", result="refused", status="403") == 1
    d.wait_log(r"handshakes refused by JWT authentication")        # the warning, once
    d.wait_log(r"connection \d+ from 127\.0\.0\.1 for bob: 403")    # each one at debug


# --------------------------------------------------------------------------
# public keys

def test_rs256(make_daemon, keys):
    d = make_daemon("--jwt-public-key-file", keys["rsa.pub"])
    u = uniq("rs")
    accepted(d, u, token=jwt.encode({"sub": u, "exp": now() + 60}, keys["rsa"], algorithm="RS256"))
    refused(d, u, 403, token=jwt.encode({"sub": "x" + u}, keys["rsa"], algorithm="RS256"))
    refused(d, u, 401, "wrong token algorithm",
            token=jwt.encode({"sub": u}, keys["ec"], algorithm="ES256"))
    refused(d, u, 401, "wrong token algorithm", token=hs({"sub": u}))
    refused(d, u, 401, "wrong token algorithm",
            token=jwt.encode({"sub": u}, keys["rsa"], algorithm="RS512"))
    # the alg confusion: an HMAC keyed with the public key itself
    refused(d, u, 401, "wrong token algorithm", token=hs_forged(keys["rsa_pub_pem"], {"sub": u}))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused(d, u, 401, "bad token signature",
            token=jwt.encode({"sub": u}, other, algorithm="RS256"))
    refused(d, u, 401, "alg none", token=raw_token({"alg": "none"}, {"sub": u}))
    d.wait_log(r"auth on: clients need a JWT verified with the public key in ")


def test_es256(make_daemon, keys):
    d = make_daemon("--jwt-public-key-file", keys["ec.pub"])
    u = uniq("es")
    accepted(d, u, token=jwt.encode({"sub": u}, keys["ec"], algorithm="ES256"))
    refused(d, u, 401, "token expired",
            token=jwt.encode({"sub": u, "exp": now() - 100}, keys["ec"], algorithm="ES256"))
    refused(d, u, 401, "wrong token algorithm",
            token=jwt.encode({"sub": u}, keys["rsa"], algorithm="RS256"))
    refused(d, u, 401, "wrong token algorithm", token=hs_forged(keys["ec_pub_pem"], {"sub": u}))


# --------------------------------------------------------------------------
# configuration

def _zwsd(*args):
    with tempfile.TemporaryDirectory(prefix="zwcfg") as tmp:
        return subprocess.run([ZWSD, "--runtime-dir", os.path.join(tmp, "run"),
                               "--listen", "127.0.0.1:1", *args],
                              capture_output=True, text=True, timeout=10)


def test_configuration_errors(keys):
    p = _zwsd("--jwt-secret-file", keys["secret"], "--jwt-public-key-file", keys["ec.pub"])
    assert p.returncode == 2, p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "--jwt-secret-file" in lines[0] \
        and "--jwt-public-key-file" in lines[0], p.stderr
    for args, why in ((("--jwt-secret-file", keys["short"]), "32"),
                      (("--jwt-secret-file", keys["dir"] + "/none"), "No such file"),
                      (("--jwt-public-key-file", keys["rsa1024.pub"]), "2048"),
                      (("--jwt-public-key-file", keys["rsa.key"]), "PEM public key"),
                      (("--jwt-public-key-file", keys["secret"]), "PEM public key"),
                      (("--jwt-leeway", "-1"), ""), (("--jwt-leeway", "601"), ""),
                      (("--allowed-origins", ""), ""), (("--allowed-origins", "*,https://a.b"), ""),
                      (("--allowed-origins", "https://a.b,,https://c.d"), ""),
                      (("--allowed-origins", "https://a b"), "")):
        p = _zwsd(*args)
        assert p.returncode == 2, (args, p)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and args[0] in lines[0] and why in lines[0], (args, p.stderr)


def test_auth_off_is_logged_once(make_daemon):
    d = make_daemon()
    d.wait_log(r"auth off: no JWT key configured")
    with d.cond:
        n = sum(1 for line in d.lines if "auth off" in line)
    assert n == 1, n


def test_auth_on_is_logged(hs_daemon):
    with hs_daemon.cond:
        lines = list(hs_daemon.lines)
    assert any("auth on: clients need a JWT verified with the HS256 secret" in l for l in lines)
    assert not any("auth off" in l for l in lines)


# --------------------------------------------------------------------------
# the session's deadline and refresh

def test_expiry_closes_with_4003(make_daemon, keys):
    d = make_daemon("--jwt-secret-file", keys["secret"], "--jwt-leeway", "0")

    async def body():
        u = uniq("exp")
        ws, _ = await ws_connect(d, f"{u}?token=" + hs({"sub": u, "exp": now() + 2}))
        code = await wait_closed(ws, timeout=15)
        assert code == 4003, code
        assert ws.close_reason == "token expired", ws.close_reason
    run(body())
    d.wait_log(r"token expired, closing 4003")


def test_refresh_moves_the_deadline(make_daemon, keys):
    """a's token expires a second before b's; a refreshes, b does not. b is
    closed with 4003, and a, whose old deadline passed before b's, is still
    usable: awaited events only, no clock reading on our side."""
    d = make_daemon("--jwt-secret-file", keys["secret"], "--jwt-leeway", "0")

    async def body():
        a, b = uniq("refa"), uniq("refb")
        t = now()
        wa, _ = await ws_connect(d, f"{a}?token=" + hs({"sub": a, "exp": t + 2}))
        wb, _ = await ws_connect(d, f"{b}?token=" + hs({"sub": b, "exp": t + 3}))
        await send_json(wa, {"type": "refresh", "token": hs({"sub": a, "exp": t + 600}),
                             "id": "r1"})
        assert await recv_json(wa) == {"type": "ack", "id": "r1", "status": "refreshed"}
        assert await wait_closed(wb, timeout=15) == 4003
        await assert_usable(wa, a, "after")
        # a token without exp: no deadline at all any more
        await send_json(wa, {"type": "refresh", "token": hs({"sub": a}), "id": "r2"})
        assert await recv_json(wa) == {"type": "ack", "id": "r2", "status": "refreshed"}
    run(body())


def test_refresh_refused(hs_daemon):
    async def body():
        u = uniq("refno")
        ws, _ = await ws_connect(hs_daemon, f"{u}?token=" + hs({"sub": u, "exp": now() + 600}))
        for token, code, reason in (
                (hs({"sub": u}, OTHER_SECRET), "unauthorized", "bad token signature"),
                (hs({"sub": u, "exp": now() - 100}), "unauthorized", "token expired"),
                (raw_token({"alg": "none"}, {"sub": u}), "unauthorized", "alg none"),
                ("garbage", "unauthorized", "token malformed"),
                (hs({"sub": "x" + u}), "forbidden", "another user")):
            await send_json(ws, {"type": "refresh", "token": token, "id": "bad"})
            f = await recv_json(ws)
            check_error(f, code, id="bad")
            assert reason in f["reason"], f
        for frame in ({"type": "refresh", "id": "m"}, {"type": "refresh", "token": 5, "id": "m"}):
            await send_json(ws, frame)
            check_error(await recv_json(ws), "bad_request", id="m")
        # without an id: no ack (as for every frame), but still refused
        await send_json(ws, {"type": "refresh", "token": "garbage"})
        check_error(await recv_json(ws), "unauthorized")
        await assert_usable(ws, u, "still")     # a refused refresh closes nothing
    run(body())


def test_refused_refresh_keeps_the_old_deadline(make_daemon, keys):
    d = make_daemon("--jwt-secret-file", keys["secret"], "--jwt-leeway", "0")

    async def body():
        u = uniq("refkeep")
        ws, _ = await ws_connect(d, f"{u}?token=" + hs({"sub": u, "exp": now() + 2}))
        await send_json(ws, {"type": "refresh", "token": hs({"sub": "x" + u,
                                                              "exp": now() + 600}), "id": "f"})
        check_error(await recv_json(ws), "forbidden", id="f")
        assert await wait_closed(ws, timeout=15) == 4003
    run(body())


def test_refresh_with_auth_off(make_daemon):
    d = make_daemon()

    async def body():
        u = uniq("refoff")
        ws, _ = await ws_connect(d, u)
        await send_json(ws, {"type": "refresh", "token": "anything", "id": "o"})
        assert await recv_json(ws) == {"type": "ack", "id": "o", "status": "refreshed"}
    run(body())


def test_reload_turns_auth_on_and_off(make_daemon, keys, tmp_path):
    conf = tmp_path / "zwsd.conf"
    conf.write_text("")
    d = make_daemon("--config", str(conf))
    u = uniq("reload")
    accepted(d, u)
    conf.write_text(f"jwt-secret-file = {keys['secret']}\n")
    start = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    for _ in range(d.workers):
        start = d.wait_log(r"reload: auth on: HS256 tokens", start=start).index + 1
    refused(d, u, 401, "token missing")
    accepted(d, u, token=hs({"sub": u}))
    conf.write_text("")
    d.proc.send_signal(signal.SIGHUP)
    for _ in range(d.workers):
        start = d.wait_log(r"reload: auth off", start=start).index + 1
    accepted(d, u)


# --------------------------------------------------------------------------
# origins

@pytest.fixture(scope="module")
def _origin_daemon(request):
    with started_daemon(request, ["--allowed-origins",
                                  "https://app.example.com, http://localhost:3000"]) as d:
        yield d


@pytest.fixture
def origin_daemon(_origin_daemon, request):
    request.node._zwsd_daemons = [_origin_daemon]
    return _origin_daemon


@pytest.mark.parametrize("origin", ["https://app.example.com", "HTTPS://APP.EXAMPLE.COM",
                                    "http://localhost:3000", None])
def test_origin_allowed(origin_daemon, origin):
    u = uniq("orig")
    accepted(origin_daemon, u, add=[("Origin", origin)] if origin else [])


@pytest.mark.parametrize("origin", ["https://evil.example", "https://app.example.com:444",
                                    "http://app.example.com", "null", "https://app.example.co"])
def test_origin_refused(origin_daemon, origin):
    refused(origin_daemon, uniq("origno"), 403, "origin not allowed", add=[("Origin", origin)])


def test_origin_refused_then_others_work(origin_daemon):
    async def body():
        u = uniq("origws")
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await websockets.connect(ws_url(origin_daemon, u), origin="https://evil.example",
                                     open_timeout=WAIT)
        assert e.value.status_code == 403
        ws, _ = await ws_connect(origin_daemon, u, origin="https://app.example.com")
        await assert_usable(ws, u, "o1")
    run(body())


def test_any_origin_by_default(hs_daemon):
    u = uniq("anyorig")
    accepted(hs_daemon, u, token=hs({"sub": u}), add=[("Origin", "https://whatever.example")])


def test_origin_checked_before_token(make_daemon, keys):
    d = make_daemon("--jwt-secret-file", keys["secret"], "--allowed-origins", "https://a.example")
    refused(d, "bob", 403, "origin not allowed", add=[("Origin", "https://b.example")])
    refused(d, "bob", 401, "token missing", add=[("Origin", "https://a.example")])
