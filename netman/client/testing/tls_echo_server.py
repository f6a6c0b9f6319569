#!/usr/bin/env python3
# Copyright netman authors.
"""A netman-framed echo server over TLS, written with Python's ssl module
(OpenSSL), for testing netman's TLS client against a TLS stack no one here
wrote. Standard library only.

Frame: uint32 LE body length, uint32 LE id, body. Every frame is echoed,
except these ids, which make the server misbehave on purpose:
  0xFFFF0001  no reply (the client's Receive() times out)
  0xFFFF0002  send close_notify, then close
  0xFFFF0003  close without close_notify (TCP FIN only)
  0xFFFF0004  reset the connection (SO_LINGER 0)

Usage:
  tls_echo_server.py make_certs DIR
      Writes a throw-away test PKI to DIR with the openssl CLI (ECDSA P-256):
      ca.pem, server.pem/server.key (SAN DNS:localhost, IP:127.0.0.1, signed
      by ca), other_ca.pem (an unrelated CA), client.pem/client.key (signed
      by ca).
  tls_echo_server.py serve --cert C --key K [--min 1.2|1.3] [--max 1.2|1.3]
      [--client_ca CA] [--alpn NAME]...
      Listens on 127.0.0.1, port chosen by the kernel, prints "PORT <n>" and
      serves until stdin reaches EOF (so it dies with its parent).
"""
import argparse
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading

NO_REPLY = 0xFFFF0001
CLOSE_NOTIFY = 0xFFFF0002
CLOSE_FIN = 0xFFFF0003
CLOSE_RESET = 0xFFFF0004


def run(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(d, name):
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key", "-out",
        name + ".pem", "-days", "2", "-subj", "/CN=netman test " + name,
        cwd=d)


def make_leaf(d, name, ca, san, ext_usage):
    run("openssl", "req", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key", "-out",
        name + ".csr", "-subj", "/CN=netman test " + name, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        if san:
            f.write("subjectAltName=" + san + "\n")
        f.write("extendedKeyUsage=" + ext_usage + "\n")
    run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
        "-CAkey", ca + ".key", "-CAcreateserial", "-out", name + ".pem",
        "-days", "2", "-extfile", name + ".ext", cwd=d)


def make_certs(d):
    os.makedirs(d, exist_ok=True)
    make_ca(d, "ca")
    make_ca(d, "other_ca")
    make_leaf(d, "server", "ca", "DNS:localhost,IP:127.0.0.1", "serverAuth")
    make_leaf(d, "client", "ca", "", "clientAuth")


VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def recv_exact(conn, n):
    data = bytearray()
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def serve_one(conn):
    try:
        conn.do_handshake()
        while True:
            header = recv_exact(conn, 8)
            if header is None:
                break
            length, ident = struct.unpack("<II", header)
            body = recv_exact(conn, length)
            if body is None:
                break
            if ident == NO_REPLY:
                continue
            if ident == CLOSE_NOTIFY:
                conn = conn.unwrap()
                break
            if ident == CLOSE_FIN:
                conn.shutdown(socket.SHUT_RDWR)
                break
            if ident == CLOSE_RESET:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                break
            conn.sendall(header + body)
    except (ssl.SSLError, OSError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def serve(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.minimum_version = VERSIONS[args.min]
    ctx.maximum_version = VERSIONS[args.max]
    if args.client_ca:
        ctx.load_verify_locations(args.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    if args.alpn:
        ctx.set_alpn_protocols(args.alpn)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print("PORT", listener.getsockname()[1], flush=True)

    def accept_loop():
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = ctx.wrap_socket(raw, server_side=True,
                                   do_handshake_on_connect=False)
            threading.Thread(target=serve_one, args=(conn,),
                             daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    sys.stdin.read()  # until the parent closes our stdin (or dies)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    certs = sub.add_parser("make_certs")
    certs.add_argument("dir")
    s = sub.add_parser("serve")
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--min", default="1.2", choices=VERSIONS)
    s.add_argument("--max", default="1.3", choices=VERSIONS)
    s.add_argument("--client_ca")
    s.add_argument("--alpn", action="append")
    args = parser.parse_args()
    if args.command == "make_certs":
        make_certs(args.dir)
    else:
        serve(args)


if __name__ == "__main__":
    main()
