#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/seeds/ (run from anywhere).

The RFC 5769 vectors are checked here (HMAC-SHA1 with their passwords, and
FINGERPRINT) before they are written. The other messages are built here and
carry MESSAGE-INTEGRITY(-SHA256) computed with the key the decode target
verifies with, b"fuzz-key", so that the fuzzer starts from messages that
pass their checks.
"""

import hashlib
import hmac
import random
import struct
import zlib
from pathlib import Path

SEEDS = Path(__file__).resolve().parent / "seeds"
FUZZ_KEY = b"fuzz-key"
COOKIE = bytes.fromhex("2112a442")


def h(text):
    return bytes.fromhex("".join(text.split()))


# RFC 5769 §2.1: sample request (short-term credentials, ICE attributes).
RFC5769_REQUEST = h("""
00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
00 24 00 04 6e 00 01 ff
80 29 00 08 93 2f f9 b1 51 26 3b 36
00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
80 28 00 04 e5 7a 3b cf
""")

# RFC 5769 §2.2: sample IPv4 response (stun_proto::doc_example()).
RFC5769_IPV4 = h("""
01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
00 20 00 08 00 01 a1 47 e1 12 a6 43
00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
80 28 00 04 c0 7d 4c 96
""")

# RFC 5769 §2.3: sample IPv6 response.
RFC5769_IPV6 = h("""
01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
80 28 00 04 c8 fb 0b 4c
""")

# RFC 5769 §2.4: sample request with long-term authentication.
RFC5769_LONG_TERM = h("""
00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46
            53 54 76 79 36 34 73 41
00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66
""")

# RFC 8489 Appendix B.1: request with USERHASH, PASSWORD-ALGORITHM and
# MESSAGE-INTEGRITY-SHA256. The RFC prints the length as 0x9c, but its
# attributes add up to 0x90 (144 bytes); 0x90 is used so the seed parses.
# (Its HMAC-SHA256 cannot be reproduced from the RFC's credentials either.)
RFC8489_B1 = h("""
00 01 00 90 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
00 1e 00 20 4a 3c f3 8f ef 69 92 bd a9 52 c6 78 04 17 da 0f
            24 81 94 15 56 9e 60 b2 05 c4 6e 41 40 7f 17 04
00 15 00 29 6f 62 4d 61 74 4a 6f 73 32 41 41 41 43 66 2f 2f
            34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39
            46 53 54 76 79 36 34 73 41 00 00 00
00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
00 1d 00 04 00 02 00 00
00 1c 00 20 e4 68 6c 8f 0e de b5 90 13 e0 70 90 01 0a 93 ef
            cc bc cc 54 4c 0a 45 d9 f8 30 aa 6d 6f 73 5a 01
""")


def attrs_of(msg):
    """(type, offset) of every attribute."""
    out, off = [], 20
    while off < len(msg):
        t, n = struct.unpack_from(">HH", msg, off)
        out.append((t, off))
        off += 4 + (n + 3) // 4 * 4
    assert off == len(msg)
    return out


def check_vector(msg, key):
    assert struct.unpack_from(">H", msg, 2)[0] == len(msg) - 20
    offsets = dict(attrs_of(msg))
    at = offsets[0x0008]
    covered = bytearray(msg[:at])
    struct.pack_into(">H", covered, 2, at + 24 - 20)
    mac = hmac.new(key, bytes(covered), hashlib.sha1).digest()
    assert mac == msg[at + 4 : at + 24], "MESSAGE-INTEGRITY"
    if 0x8028 in offsets:
        at = offsets[0x8028]
        crc = zlib.crc32(msg[:at]) ^ 0x5354554E
        assert struct.pack(">I", crc) == msg[at + 4 : at + 8], "FINGERPRINT"


class Msg:
    """A small STUN message builder, independent of stun-proto."""

    def __init__(self, msg_type, tid, rfc3489=False):
        self.rfc3489 = rfc3489
        self.buf = bytearray(struct.pack(">HH", msg_type, 0))
        self.buf += tid if rfc3489 else COOKIE + tid

    def _set_len(self, extra=0):
        struct.pack_into(">H", self.buf, 2, len(self.buf) - 20 + extra)

    def attr(self, t, value):
        self.buf += struct.pack(">HH", t, len(value)) + value
        self.buf += bytes(-len(value) % 4)
        self._set_len()
        return self

    def xor_addr(self, t, ip, port):
        key = bytes(self.buf[4:20])
        raw = bytes(a ^ b for a, b in zip(ip, key))
        family = 1 if len(ip) == 4 else 2
        xport = port ^ 0x2112
        return self.attr(t, struct.pack(">BBH", 0, family, xport) + raw)

    def integrity(self, key=FUZZ_KEY):
        # The length covers the attribute (RFC 8489 §14.5). RFC 3489
        # §11.2.8 instead pads the covered bytes with zeros to 64.
        self._set_len(24)
        data = bytes(self.buf)
        if self.rfc3489:
            data += bytes(-len(data) % 64)
        return self.attr(0x0008, hmac.new(key, data, hashlib.sha1).digest())

    def integrity_sha256(self, length=32, key=FUZZ_KEY):
        self._set_len(4 + length)
        mac = hmac.new(key, bytes(self.buf), hashlib.sha256).digest()[:length]
        return self.attr(0x001C, mac)

    def fingerprint(self):
        self._set_len(8)
        crc = zlib.crc32(bytes(self.buf)) ^ 0x5354554E
        return self.attr(0x8028, struct.pack(">I", crc))

    def bytes(self):
        return bytes(self.buf)


def turn_allocate():
    """An authenticated TURN Allocate request (RFC 8656 §7.1)."""
    return (
        Msg(0x0003, bytes(range(1, 13)))
        .attr(0x0019, bytes([17, 0, 0, 0]))  # REQUESTED-TRANSPORT UDP
        .attr(0x000D, struct.pack(">I", 600))  # LIFETIME
        .attr(0x001A, b"")  # DONT-FRAGMENT
        .attr(0x0018, b"\x80")  # EVEN-PORT R
        .attr(0x0017, bytes([2, 0, 0, 0]))  # REQUESTED-ADDRESS-FAMILY v6
        .attr(0x0006, b"fuzz-user")
        .attr(0x0014, b"example.org")
        .attr(0x0015, b"obMatJos2AAACnonce")
        .integrity()
        .fingerprint()
        .bytes()
    )


def turn_allocate_success():
    """Allocate success with relayed/mapped addresses and SHA-256 integrity."""
    m = Msg(0x0103, bytes(range(1, 13)))
    m.xor_addr(0x0016, bytes([203, 0, 113, 7]), 49152)
    m.xor_addr(0x0020, bytes.fromhex("20010db8000000000000000000000001"), 3478)
    m.attr(0x000D, struct.pack(">I", 600))
    m.attr(0x0022, bytes(range(8)))  # RESERVATION-TOKEN
    m.attr(0x8022, b"stun-proto fuzz")
    return m.integrity().integrity_sha256(16).fingerprint().bytes()


def turn_unauthorized():
    """401 to an Allocate, offering password algorithms (RFC 8489 §9.2)."""
    return (
        Msg(0x0113, bytes(range(13, 25)))
        .attr(0x0009, bytes([0, 0, 4, 1]) + b"Unauthenticated")
        .attr(0x0014, b"example.org")
        .attr(0x0015, b"obMatJos2wAAAnonce")
        .attr(0x8002, h("0002 0000 0001 0000"))  # PASSWORD-ALGORITHMS
        .attr(0x000A, h("0031 8077 0031 0031"))  # UNKNOWN-ATTRIBUTES
        .fingerprint()
        .bytes()
    )


def turn_send_indication():
    """Send indication with XOR-PEER-ADDRESS, DATA and ICMP."""
    m = Msg(0x0016, bytes(range(30, 42)))
    m.xor_addr(0x0012, bytes([192, 0, 2, 9]), 5000)
    m.attr(0x0013, b"hello, peer")
    m.attr(0x8004, h("0000 0304 0000 05dc"))  # ICMP
    m.attr(0x000C, h("4001 0000"))  # CHANNEL-NUMBER
    return m.bytes()


def ice_check():
    """ICE connectivity check with an unknown comprehension-required type."""
    return (
        Msg(0x0001, bytes(range(50, 62)))
        .attr(0x0006, b"abcd:efgh")
        .attr(0x0024, struct.pack(">I", 0x6E0001FF))
        .attr(0x802A, bytes(range(8)))  # ICE-CONTROLLING
        .attr(0x0025, b"")  # USE-CANDIDATE
        .attr(0x7F00, b"unknown!")  # comprehension-required, unknown
        .attr(0x002A, struct.pack(">I", 7))  # CONNECTION-ID
        .integrity()
        .attr(0x8022, b"ignored")  # after MESSAGE-INTEGRITY: not processed
        .fingerprint()
        .bytes()
    )


def rfc3489_request():
    """RFC 3489 Binding request: no magic cookie, CHANGE-REQUEST."""
    tid = bytes(range(0xA0, 0xB0))
    return (
        Msg(0x0001, tid, rfc3489=True)
        .attr(0x0003, bytes([0, 0, 0, 6]))
        .attr(0x0027, h("1f90"))  # RESPONSE-PORT, 2-byte form
        .bytes()
    )


def rfc3489_response():
    """RFC 3489 Binding response with the classic addresses and legacy
    MESSAGE-INTEGRITY."""
    tid = bytes(range(0xA0, 0xB0))
    return (
        Msg(0x0101, tid, rfc3489=True)
        .attr(0x0001, struct.pack(">BBH", 0, 1, 32853) + bytes([192, 0, 2, 1]))
        .attr(0x0004, struct.pack(">BBH", 0, 1, 3478) + bytes([198, 51, 100, 1]))
        .attr(0x0005, struct.pack(">BBH", 0, 1, 3479) + bytes([198, 51, 100, 2]))
        .attr(0x000B, struct.pack(">BBH", 0, 1, 1234) + bytes([10, 0, 0, 1]))
        .integrity()
        .bytes()
    )


def channel_data(channel, data, pad=True):
    out = struct.pack(">HH", channel, len(data)) + data
    return out + bytes(-len(out) % 4) if pad else out


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data)


def main():
    vector_key = b"VOkJxbRl1RmTxUk/WvJxBt"
    check_vector(RFC5769_REQUEST, vector_key)
    check_vector(RFC5769_IPV4, vector_key)
    check_vector(RFC5769_IPV6, vector_key)
    long_term = hashlib.md5("マトリックス:example.org:TheMatrIX".encode()).digest()
    check_vector(RFC5769_LONG_TERM, long_term)
    userhash = hashlib.sha256("マトリックス:example.org".encode()).digest()
    assert RFC8489_B1[24:56] == userhash
    assert len(RFC5769_REQUEST) == 108 and len(RFC5769_LONG_TERM) == 116
    assert len(RFC5769_IPV6) == 92 and len(RFC8489_B1) == 164

    decode = {
        "rfc5769-request": RFC5769_REQUEST,
        "rfc5769-ipv4-response": RFC5769_IPV4,
        "rfc5769-ipv6-response": RFC5769_IPV6,
        "rfc5769-long-term": RFC5769_LONG_TERM,
        "rfc8489-b1": RFC8489_B1,
        "channel-data": channel_data(0x4001, b"relayed payload"),
        "channel-data-unpadded": channel_data(0x4FFF, b"odd", pad=False),
        "rfc3489-request": rfc3489_request(),
        "rfc3489-response": rfc3489_response(),
        "turn-allocate": turn_allocate(),
        "turn-allocate-success": turn_allocate_success(),
        "turn-401": turn_unauthorized(),
        "turn-send": turn_send_indication(),
        "ice-check": ice_check(),
    }
    for name, data in decode.items():
        write("decode", name, data)

    # stream: [read-size count | read sizes | stream bytes]; see stream.rs.
    cd = decode["channel-data"]
    stream = {
        "rfc5769-all": (bytes([0]), RFC5769_REQUEST + RFC5769_IPV4 + RFC5769_IPV6
                        + RFC5769_LONG_TERM),
        "turn-session": (bytes([3, 1, 7, 64]), turn_allocate() + turn_unauthorized()
                         + turn_allocate_success() + cd + turn_send_indication() + cd),
        "mixed-split": (bytes([2, 20, 3]), ice_check() + cd + RFC8489_B1
                        + rfc3489_request() + channel_data(0x4002, b"")),
        "partial-tail": (bytes([1, 13]), RFC5769_IPV4 + cd + RFC5769_REQUEST[:50]),
        "garbage-after": (bytes([2, 5, 0]), cd + RFC5769_IPV6 + b"\xff\x00\x00\x00junk"),
    }
    for name, (head, data) in stream.items():
        write("stream", name, head + data)

    # roundtrip: arbitrary bytes for the structured input.
    rng = random.Random(5389)
    for n in (32, 64, 128, 256, 512):
        write("roundtrip", f"random-{n}", bytes(rng.randrange(256) for _ in range(n)))


if __name__ == "__main__":
    main()
