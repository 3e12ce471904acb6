#!/usr/bin/python3
"""An aioice peer for the interop tests (interop/tests/aioice.rs).

It runs one aioice Connection (RFC 8445 via aioice) in the role given on the
command line, on 127.0.0.1 only, and talks to the test over its standard
streams. Run by Debian's /usr/bin/python3 (package python3-aioice).

From the test, one command per line on stdin:
    remote <ufrag> <pwd>     the test's credentials
    candidate <line>         one of the test's candidates (candidate:... or bare)
    end                      no more candidates: start the checks
    send <word>              send <word> over the selected pair
    recv                     wait for one datagram and report it
    close                    close the connection and exit

To the test, one JSON object per line on stdout:
    {"type":"local","ufrag":..,"pwd":..,"version":..}
    {"type":"candidate","candidate":"candidate:..."}   one per local candidate
    {"type":"gathered"}
    {"type":"connected","local":"ip:port","local_type":..,"remote":"ip:port","remote_type":..}
    {"type":"sent"}
    {"type":"received","data":..}
    {"type":"error","message":..}                      then it exits with status 1
Logs go to stderr.
"""

import argparse
import asyncio
import json
import sys

import aioice
import aioice.ice
from aioice import Candidate, Connection

LOOPBACK = "127.0.0.1"
STEP_TIMEOUT = 20.0


def say(**message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def loopback_only(use_ipv4, use_ipv6):
    # aioice leaves 127.0.0.1 out of its host addresses; the tests run on
    # loopback only, so it is the one address this peer gathers.
    return [LOOPBACK] if use_ipv4 else []


async def read_command(reader):
    line = await asyncio.wait_for(reader.readline(), STEP_TIMEOUT)
    if not line:
        raise RuntimeError("the test closed stdin")
    text = line.decode("utf-8", "replace").strip()
    word, _, rest = text.partition(" ")
    return word, rest


def parse_candidate(line):
    line = line.strip()
    if line.startswith("a="):
        line = line[2:]
    if line.lower().startswith("candidate:"):
        line = line[len("candidate:"):]
    return Candidate.from_sdp(line)


async def run(role):
    aioice.ice.get_host_addresses = loopback_only
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )

    conn = Connection(ice_controlling=(role == "controlling"), use_ipv6=False)
    try:
        say(
            type="local",
            ufrag=conn.local_username,
            pwd=conn.local_password,
            version=aioice.__version__,
        )
        await asyncio.wait_for(conn.gather_candidates(), STEP_TIMEOUT)
        for c in conn.local_candidates:
            say(type="candidate", candidate="candidate:" + c.to_sdp())
        say(type="gathered")

        while True:
            word, rest = await read_command(reader)
            if word == "remote":
                ufrag, _, pwd = rest.partition(" ")
                conn.remote_username = ufrag
                conn.remote_password = pwd
            elif word == "candidate":
                await conn.add_remote_candidate(parse_candidate(rest))
            elif word == "end":
                await conn.add_remote_candidate(None)
                break
            else:
                raise RuntimeError("unexpected command before end: %r" % word)

        await asyncio.wait_for(conn.connect(), STEP_TIMEOUT)
        pair = conn._nominated.get(1)
        if pair is None:
            raise RuntimeError("connect() returned without a nominated pair")
        local, remote = pair.local_candidate, pair.remote_candidate
        say(
            type="connected",
            local="%s:%d" % (local.host, local.port),
            local_type=local.type,
            remote="%s:%d" % (remote.host, remote.port),
            remote_type=remote.type,
        )

        while True:
            word, rest = await read_command(reader)
            if word == "send":
                await conn.send(rest.encode())
                say(type="sent")
            elif word == "recv":
                data = await asyncio.wait_for(conn.recv(), STEP_TIMEOUT)
                say(type="received", data=data.decode("utf-8", "replace"))
            elif word == "close":
                break
            else:
                raise RuntimeError("unexpected command: %r" % word)
    finally:
        await conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["controlling", "controlled"], required=True)
    args = parser.parse_args()
    try:
        asyncio.run(run(args.role))
    except Exception as e:  # reported to the test, which fails with it
        say(type="error", message="%s: %s" % (type(e).__name__, e))
        sys.exit(1)


if __name__ == "__main__":
    main()
