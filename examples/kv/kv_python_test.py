#!/usr/bin/python3
# Copyright netman authors.
#
# The example key-value service end to end: starts kv_server (port 0), then
#   * the Python client (kv_client.KvClient, python3-protobuf + kv_pb2 from
#     protoc --python_out) puts, gets, replaces and deletes keys;
#   * the C++ kv_client binary reads what Python wrote (same wire format);
#   * a body that does not parse as its id's type closes that connection
#     (the server's default policy) while another connection keeps working;
#   * SIGUSR1's stats count it (decode_errors) and SIGTERM exits 0.
#
#   /usr/bin/python3 kv_python_test.py <kv_server> <kv_client> <dir of kv_pb2.py>
import os
import json
import signal
import subprocess
import sys
import time

sys.path.insert(0, sys.argv[3])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kv_client  # noqa: E402  (after the path set-up)

LISTENING = "kv_server listening on "


def main():
    server_bin, client_bin = sys.argv[1], sys.argv[2]
    server = subprocess.Popen(
        [server_bin, "--host=127.0.0.1", "--port=0", "--loops=2", "--log_level=warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith(LISTENING), "unexpected first line: %r" % line
        port = int(line.strip().rsplit(":", 1)[1])

        c = kv_client.KvClient("127.0.0.1", port, timeout=10)
        assert not c.get("a").found
        assert not c.put("a", b"hello").replaced
        assert c.put("a", b"hello again").replaced
        reply = c.get("a")
        assert reply.found and reply.value == b"hello again", reply
        big = bytes(range(256)) * 1000
        assert not c.put("big", big).replaced
        assert c.get("big").value == big

        # The C++ typed client sees what the Python client stored.
        out = subprocess.run([client_bin, "--port=%d" % port, "--op=get", "--key=a"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "get: found value=hello again\n", out.stdout
        out = subprocess.run([client_bin, "--port=%d" % port, "--op=put", "--key=cpp",
                              "--value=from C++"], capture_output=True, text=True, timeout=30)
        assert out.stdout == "put: replaced=false\n", (out.stdout, out.stderr)
        assert c.get("cpp").value == b"from C++"

        assert c.delete("a").deleted
        assert not c.delete("a").deleted
        assert not c.get("a").found

        # A GetRequest id with bytes that are no GetRequest: that connection
        # closes; the other one keeps working.
        bad = kv_client.KvClient("127.0.0.1", port, timeout=10)
        bad.send_raw(1, b"\xff\xff\xff")
        assert bad.sock.recv(1) == b"", "bad payload: connection still open"
        bad.close()
        assert c.get("cpp").found
        c.close()

        # The close is counted on the server's loop just after the socket
        # closes: ask again (each answer is a round trip) until it shows.
        deadline = time.monotonic() + 10
        while True:
            server.send_signal(signal.SIGUSR1)
            stats = json.loads(server.stdout.readline())
            if stats["closed_by_reason"].get("INVALID_ARGUMENT") or time.monotonic() > deadline:
                break
        assert stats["decode_errors"] == 1, stats
        assert stats["closed_by_reason"].get("INVALID_ARGUMENT") == 1, stats
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        err = server.stderr.read()
        if err:
            print("kv_server stderr:\n" + err)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
