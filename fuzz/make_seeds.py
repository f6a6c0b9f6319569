#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/ (run from anywhere).

Seeds are SplitInputs (fuzz/split_input.h): a byte with the number of chunk
lengths (bits 0-4) and flags (bits 5-7), the chunk lengths (byte b = b + 1
bytes), then the stream. Files the fuzzers found and that were merged into a
corpus (fuzz/run_fuzzers.sh --merge) have hash names; these have readable
ones. Re-running rewrites only these files.
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def frame(msg_id, body):
    if isinstance(body, str):
        body = body.encode()
    return struct.pack("<II", len(body), msg_id) + body


def header(length, msg_id=0):
    return struct.pack("<II", length, msg_id)


def split_input(stream, chunks=(), flags=0):
    chunks = list(chunks)[:31]
    out = bytes([(flags << 5) | len(chunks)])
    out += bytes(max(1, min(256, c)) - 1 for c in chunks)
    return out + stream


HTTP = b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n"
# The start of a TLS 1.2 ClientHello record.
TLS = bytes.fromhex("16030100c4010000c00303") + bytes(range(32)) + b"\x00\x00\x02\x13\x01\x01\x00"

PACKER_SEEDS = {
    "empty": split_input(b""),
    "go_test_vector": split_input(frame(1, "hi")),
    "partial_header": split_input(frame(1, "hi")[:3]),
    "header_only": split_input(header(1000, 5)),
    "zero_length_bodies": split_input(frame(0, "") * 4 + frame(7, "")),
    "split_every_header_offset": split_input(
        frame(0, "split me") * 8, chunks=[1, 2, 3, 4, 5, 6, 7, 8]),
    "byte_by_byte": split_input(frame(0, "a") + frame(3, "x" * 300), chunks=[1]),
    "declared_4gib": split_input(header(0xFFFFFFFF, 0xFFFFFFFF) + b"abc"),
    "mixed": split_input(
        frame(0, "") + frame(1, "one") + frame(0xFFFFFFFF, "max id") +
        frame(1024, bytes(range(256)) * 2) + header(40, 2)[:6], chunks=[9, 1, 17, 3]),
    "http_request": split_input(HTTP, chunks=[4]),
    "tls_client_hello": split_input(TLS),
}

PIPELINE_SEEDS = {
    "echo_one": split_input(frame(0, "hello")),
    "echo_many_split": split_input(
        b"".join(frame(0, "m%d" % i) for i in range(20)), chunks=[3, 11, 1, 29]),
    "echo_byte_by_byte": split_input(frame(0, "") + frame(0, "a") + frame(0, "bc"), chunks=[1]),
    "close_route_flushes_first": split_input(
        frame(0, "before") + frame(1, "bye") + frame(0, "after")),
    # The Close route's message spans two reads: its body must stay valid
    # after Close() (fixed in 6cea318).
    "close_route_split": split_input(frame(0, "x") + frame(1, "bye" * 10), chunks=[12, 40]),
    "throwing_handler": split_input(frame(0, "a") + frame(2, "") + frame(0, "b"), chunks=[9]),
    # A reply and the bad frame in one read: the reply is still delivered
    # (fixed in c130d6b).
    "reply_then_throw_same_read": split_input(frame(0, "a") + frame(2, "")),
    "reply_then_oversize_same_read": split_input(frame(0, "a") + header(5000)),
    "unknown_ids_dropped": split_input(frame(77, "who?") + frame(0, "still here") +
                                       frame(5000, "sparse")),
    "oversize_header": split_input(frame(0, "k" * 1024) + header(1025), chunks=[100]),
    "oversize_header_split": split_input(header(2000) + b"zz", chunks=[2, 3, 1]),
    "unlimited_declared_4gib": split_input(header(0xFFFFFFFF) + b"q" * 600,
                                           chunks=[8, 200], flags=1),
    "unlimited_large_body": split_input(frame(0, bytes(range(256)) * 8),
                                        chunks=[64, 255], flags=1),
    "peer_eof_mid_frame": split_input(frame(0, "done") + frame(0, "never finished")[:12]),
    "http_request": split_input(HTTP),
    "tls_client_hello": split_input(TLS, chunks=[5]),
}


# udp_datagram: byte 0 max_body (0 = unlimited), byte 1 the split's
# datagram limit (8 + 4 * byte), then one datagram.
UDP_DATAGRAM_SEEDS = {
    "one_message": bytes([0, 255]) + frame(1, "hi"),
    "three_messages_split": bytes([0, 4]) + frame(0, "a" * 10) + frame(1, "b" * 20) + frame(2, "c"),
    "empty": bytes([0, 0]),
    "header_cut": bytes([0, 0]) + frame(1, "hello")[:5],
    "body_cut": bytes([0, 0]) + frame(1, "hello")[:-1],
    "whole_then_cut": bytes([0, 0]) + frame(1, "ok") + frame(2, "x")[:3],
    "over_max_body": bytes([4, 0]) + frame(1, "hello"),
    "huge_declared": bytes([0, 0]) + b"\xff" * 12,
    "frame_over_split_limit": bytes([0, 1]) + frame(0, "a") + frame(1, "b" * 40) + frame(2, "c"),
    "empty_bodies": bytes([0, 0]) + frame(0, "") * 5,
}


def write(target, seeds):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("default_packer", PACKER_SEEDS)
    write("pipeline", PIPELINE_SEEDS)
    write("udp_datagram", UDP_DATAGRAM_SEEDS)
