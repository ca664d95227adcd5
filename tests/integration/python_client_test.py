#!/usr/bin/python3
"""Talks to a real musterd through Debian's python3-websockets, a client nobody here wrote.

Usage: python_client_test.py PATH_TO_MUSTERD
"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import websockets


SECRET = "python-client-test-secret-0123456789"


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(sub, role, secret=SECRET, exp_in=3600, alg="HS256"):
    """An HS256 JWT minted here, independently of the server's own code."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    claims = {"sub": sub, "name": sub, "role": role, "exp": int(time.time()) + exp_in}
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(sig)}"


def start_server(musterd, tmp):
    port_file = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "musterd.log"), "w")
    env = dict(os.environ, MUSTER_AUTH_SECRET=SECRET)
    # The default engine keeps its database in this run's own directory.
    storage = 'storage.path="%s"' % os.path.join(tmp, "muster.db")
    proc = subprocess.Popen([musterd, "--listen", "127.0.0.1:0", "--port-file", port_file,
                             "--set", storage],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(port_file):
            with open(port_file) as f:
                text = f.read().strip()
            if text:
                return proc, int(text)
        if proc.poll() is not None:
            raise RuntimeError("musterd exited at start-up")
        time.sleep(0.01)
    proc.kill()
    raise RuntimeError("musterd did not start")


async def call(ws, pending, msg):
    await ws.send(json.dumps(msg))
    reply = None
    while reply is None:
        # One frame may carry several newline-separated messages: keep them all.
        for line in (await asyncio.wait_for(ws.recv(), 5)).split("\n"):
            m = json.loads(line)
            if m.get("id") == msg["id"]:
                reply = m
            else:
                pending.append(m)
    return reply


async def next_event(ws, pending):
    if pending:
        return pending.pop(0)
    lines = (await asyncio.wait_for(ws.recv(), 5)).split("\n")
    pending.extend(json.loads(l) for l in lines[1:])
    return json.loads(lines[0])


async def scenario(port):
    base = f"ws://127.0.0.1:{port}/ws"
    url = f"{base}?token={token('bob', 'ambassador')}"
    # Auth: a bad token in the URL is refused with HTTP 401 before the upgrade.
    for bad in (token("eve", "admin", secret="not-the-secret-000000"),
                token("eve", "admin", exp_in=-3600), token("eve", "admin", alg="none"), "garbage"):
        try:
            async with websockets.connect(f"{base}?token={bad}"):
                raise AssertionError("bad token accepted: " + bad)
        except websockets.exceptions.InvalidStatusCode as e:
            assert e.status_code == 401, e
    # ...and a bad token in connect gets an error reply, then close code 4001.
    async with websockets.connect(base) as eve:
        r = await call(eve, [], {"id": 1, "op": "connect", "token": "x.y.z"})
        assert r["error"]["code"] == "unauthorized", r
        try:
            await asyncio.wait_for(eve.recv(), 5)
            raise AssertionError("connection stayed open after a bad token")
        except websockets.exceptions.ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 4001, e

    async with websockets.connect(base, subprotocols=["muster.v1"]) as alice, \
            websockets.connect(url, subprotocols=["muster.v1"]) as bob:
        assert alice.subprotocol == "muster.v1", alice.subprotocol
        pa, pb = [], []
        r = await call(alice, pa, {"id": 1, "op": "connect", "token": token("alice", "lead")})
        assert r["result"]["user"] == "alice" and r["result"]["role"] == "lead", r
        r = await call(bob, pb, {"id": 1, "op": "connect", "name": "ignored"})
        assert r["result"]["name"] == "bob" and r["result"]["role"] == "ambassador", r
        # The role matrix: an ambassador may not open crisis channels.
        r = await call(bob, pb, {"id": 2, "op": "channel.create", "channel": "py:crisis",
                                 "title": "t"})
        assert r["error"]["code"] == "forbidden", r
        r = await call(alice, pa, {"id": 2, "op": "subscribe", "channel": "py:room"})
        assert r["result"]["recovered"] is False, r
        epoch = r["result"]["epoch"]
        for i in range(1, 6):
            r = await call(bob, pb, {"id": 10 + i, "op": "publish", "channel": "py:room",
                                     "data": {"text": f"hello {i}", "n": i}})
            assert r["result"]["offset"] == i, r
        for i in range(1, 6):
            ev = await next_event(alice, pa)
            assert ev["event"] == "message" and ev["offset"] == i and ev["epoch"] == epoch, ev
            assert ev["data"] == {"text": f"hello {i}", "n": i}, ev
            assert ev["sender"]["name"] == "bob", ev

        # Malformed input: an error reply, and the connection stays usable.
        await bob.send("{not json")
        err = await next_event(bob, pb)
        assert err["error"]["code"] == "bad_json", err
        r = await call(bob, pb, {"id": 30, "op": "teleport"})
        assert r["error"]["code"] == "unknown_op", r
        r = await call(bob, pb, {"id": 31, "op": "publish", "channel": "py:room"})
        assert r["error"]["code"] == "bad_request" and "data" in r["error"]["message"], r
        r = await call(bob, pb, {"id": 32, "op": "ping"})
        assert r["result"] == {}, r

    # Recovery: reconnect with the last position and get exactly what was missed.
    async with websockets.connect(url) as bob:
        pb = []
        await call(bob, pb, {"id": 1, "op": "connect", "name": "bob"})
        for i in range(6, 9):
            await call(bob, pb, {"id": i, "op": "publish", "channel": "py:room", "data": i})
    async with websockets.connect(f"{base}?token={token('alice', 'lead')}") as alice:
        pa = []
        await call(alice, pa, {"id": 1, "op": "connect", "name": "alice"})
        r = await call(alice, pa, {"id": 2, "op": "subscribe", "channel": "py:room",
                                   "recover": {"offset": 5, "epoch": epoch}})
        assert r["result"]["recovered"] is True and r["result"]["missed"] == 3, r
        got = [(await next_event(alice, pa))["offset"] for _ in range(3)]
        assert got == [6, 7, 8], got

    # Oversized frame: closed with 1009.
    async with websockets.connect(url, max_size=None) as big:
        await big.send(json.dumps({"id": 1, "op": "ping", "pad": "x" * 70000}))
        try:
            await asyncio.wait_for(big.recv(), 5)
            raise AssertionError("oversized frame was accepted")
        except websockets.exceptions.ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1009, e


def main():
    musterd = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="musterd-py-") as tmp:
        proc, port = start_server(musterd, tmp)
        try:
            asyncio.run(scenario(port))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = -9
        if code != 0:
            print(open(os.path.join(tmp, "musterd.log")).read())
            raise SystemExit(f"musterd exited with {code}")
    print("python websockets client: all checks passed")


if __name__ == "__main__":
    main()
