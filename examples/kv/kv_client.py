#!/usr/bin/python3
"""A Python client of the example key-value service (examples/kv).

Uses Debian's python3-protobuf (run it with /usr/bin/python3) and kv_pb2,
generated from kv.proto by `protoc --python_out` (the netman_proto_library
`kv_proto_py` target). Frames are netman's default: uint32 LE body length,
uint32 LE message id, then the serialised message.

    /usr/bin/python3 kv_client.py --port 8999 put a hello
    /usr/bin/python3 kv_client.py --port 8999 get a
    /usr/bin/python3 kv_client.py --port 8999 delete a
"""
import argparse
import socket
import struct
import sys

import kv_pb2

HEADER = struct.Struct("<II")  # body length, message id

# The id <-> type table (as kv_service.cc's DeclareKv).
TYPES = {
    1: kv_pb2.GetRequest, 2: kv_pb2.GetReply,
    3: kv_pb2.PutRequest, 4: kv_pb2.PutReply,
    5: kv_pb2.DeleteRequest, 6: kv_pb2.DeleteReply,
}
IDS = {t: i for i, t in TYPES.items()}


class KvClient:
    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, message):
        body = message.SerializeToString()
        self.sock.sendall(HEADER.pack(len(body), IDS[type(message)]) + body)

    def send_raw(self, message_id, body):
        self.sock.sendall(HEADER.pack(len(body), message_id) + body)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def receive(self):
        length, message_id = HEADER.unpack(self._read(HEADER.size))
        body = self._read(length)
        if message_id not in TYPES:
            raise ValueError("message id %d has no declared type" % message_id)
        message = TYPES[message_id]()
        message.ParseFromString(body)
        return message

    def call(self, request, reply_type):
        self.send(request)
        reply = self.receive()
        if not isinstance(reply, reply_type):
            raise ValueError("expected %s, got %s" % (reply_type.__name__,
                                                      type(reply).__name__))
        return reply

    def get(self, key):
        return self.call(kv_pb2.GetRequest(key=key), kv_pb2.GetReply)

    def put(self, key, value):
        return self.call(kv_pb2.PutRequest(key=key, value=value), kv_pb2.PutReply)

    def delete(self, key):
        return self.call(kv_pb2.DeleteRequest(key=key), kv_pb2.DeleteReply)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("op", choices=["get", "put", "delete"])
    parser.add_argument("key")
    parser.add_argument("value", nargs="?", default="")
    args = parser.parse_args()
    client = KvClient(args.host, args.port)
    try:
        if args.op == "get":
            reply = client.get(args.key)
            print("get: found value=%s" % reply.value.decode() if reply.found
                  else "get: not found")
        elif args.op == "put":
            reply = client.put(args.key, args.value.encode())
            print("put: replaced=%s" % str(reply.replaced).lower())
        else:
            reply = client.delete(args.key)
            print("delete: deleted=%s" % str(reply.deleted).lower())
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
