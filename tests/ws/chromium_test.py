#!/usr/bin/env python3
# Copyright netman authors.
#
# The chat page in a real browser: headless Chromium (Debian's chromium)
# opens http://127.0.0.1:<port>/ from ws_server --mode=chat twice. Page A
# types a name and a message and clicks Send; page B must show it (and A
# its own copy); B answers and A shows that. A raw client (wsproto.py) on
# /chat sees the pages' JSON and its plain text shows on both pages. The
# text is shown as text, never as markup; a 22 KB message crosses
# permessage-deflate both ways (Chromium offers it, the server has it on). Then the server is stopped: both
# pages say "disconnected (1001) ... reconnecting"; a new server on the same
# port gets both pages back and messages flow again.
#
# The browser is driven over the Chrome DevTools protocol on its
# --remote-debugging-port, with wsproto.py's own WebSocket client (standard
# library only): Target.createTarget, Target.attachToTarget (flat sessions)
# and Runtime.evaluate. Waiting happens inside the page (a promise that
# resolves when the DOM shows what is expected, with a deadline), never by
# sleeping here.
#
# Chromium is started as /work/.library/env/machines/cpp.md describes:
# --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
# --disable-background-networking --disable-component-update --disable-sync
# and a fresh --user-data-dir.
#
#   python3 chromium_test.py WS_SERVER

import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsproto import (IO_TIMEOUT, OP_TEXT, ServerProcess, Suite, TestFailure, WsClient,  # noqa: E402
                     check)

CHROMIUM = os.environ.get("NETMAN_CHROMIUM", "/usr/bin/chromium")
PAGE_TIMEOUT_MS = int(IO_TIMEOUT * 1000)


class Browser:
  """Headless Chromium with a DevTools WebSocket connection."""

  def __init__(self):
    self.profile = tempfile.mkdtemp(prefix="chromium.", dir=os.environ.get("TEST_TMPDIR"))
    self.log_path = os.path.join(self.profile, "chromium.log")
    self.proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + self.profile,
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID".
    deadline = time.monotonic() + 3 * IO_TIMEOUT
    seen = b""
    url = None
    while url is None:
      left = deadline - time.monotonic()
      ready, _, _ = select.select([self.proc.stderr], [], [], max(0, left))
      if not ready:
        self.close()
        raise TestFailure("chromium printed no DevTools line in %.0fs: %r" %
                          (3 * IO_TIMEOUT, seen[-2000:]))
      line = self.proc.stderr.readline()
      if not line:
        self.close()
        raise TestFailure("chromium exited (%s) before its DevTools line: %r" %
                          (self.proc.poll(), seen[-2000:]))
      seen += line
      m = re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)(/devtools/browser/\S+)",
                    line)
      if m:
        url = (int(m.group(1)), m.group(2))
    # Keep draining stderr so Chromium never blocks on a full pipe.
    self.log = open(self.log_path, "ab")
    self.log.write(seen)
    self.drain = threading.Thread(target=shutil.copyfileobj, args=(self.proc.stderr, self.log),
                                  daemon=True)
    self.drain.start()
    self.ws = WsClient.connect(url[0], path=url[1])
    self.next_id = 0
    self.events = []  # DevTools events seen so far (Network.* for the pages)

  def call(self, method, params=None, session=None):
    self.next_id += 1
    msg = {"id": self.next_id, "method": method, "params": params or {}}
    if session:
      msg["sessionId"] = session
    self.ws.send_text(json.dumps(msg).encode())
    while True:
      op, payload = self.ws.recv_message()
      reply = json.loads(payload)
      if reply.get("id") == self.next_id:
        break
      if "method" in reply:
        self.events.append(reply)
    if "error" in reply:
      raise TestFailure("DevTools %s: %s" % (method, reply["error"]))
    return reply["result"]

  def open_page(self, url):
    # Created blank, then navigated: Page.navigate answers once the new
    # document is committed, so later evaluations run in the chat page.
    target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = self.call("Target.attachToTarget", {"targetId": target,
                                                  "flatten": True})["sessionId"]
    self.call("Network.enable", {}, session)  # to see the WebSocket handshake
    nav = self.call("Page.navigate", {"url": url}, session)
    check("errorText" not in nav, "navigating to %s: %s" % (url, nav.get("errorText")))
    return Page(self, session)

  def close(self):
    try:
      if getattr(self, "ws", None):
        self.ws.close()
    finally:
      if self.proc.poll() is None:
        self.proc.kill()
      self.proc.wait()
      shutil.rmtree(self.profile, ignore_errors=True)


class Page:
  def __init__(self, browser, session):
    self.browser, self.session = browser, session

  def eval(self, expression):
    r = self.browser.call("Runtime.evaluate", {
        "expression": expression, "awaitPromise": True, "returnByValue": True},
        self.session)
    if "exceptionDetails" in r:
      d = r["exceptionDetails"]
      raise TestFailure("in the page: %s" % (d.get("exception", {}).get("description") or
                                              d.get("text")))
    return r["result"].get("value")

  def wait_for(self, condition, what):
    """Resolves when the JS expression `condition` is truthy (its value is
    returned), or fails with the page's state after PAGE_TIMEOUT_MS."""
    return self.eval("""
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        (function poll() {
          let v;
          try { v = (%s); } catch (e) { v = undefined; }
          if (v) return resolve(v);
          if (Date.now() - t0 > %d) {
            const st = document.getElementById('status');
            const items = [...document.querySelectorAll('#messages li')].map(li => li.textContent);
            return reject(new Error(%s + ' not seen; status=' + (st && st.dataset.state) +
                                    ' "' + (st && st.textContent) + '" messages=' +
                                    JSON.stringify(items)));
          }
          setTimeout(poll, 20);
        })();
      })""" % (condition, PAGE_TIMEOUT_MS, json.dumps(what)))

  def handshake_extensions(self):
    """Sec-WebSocket-Extensions of the page's WebSocket handshakes so far."""
    out = []
    for e in self.browser.events:
      if e.get("sessionId") == self.session and \
          e["method"] == "Network.webSocketHandshakeResponseReceived":
        headers = {k.lower(): v for k, v in e["params"]["response"]["headers"].items()}
        out.append(headers.get("sec-websocket-extensions", ""))
    return out

  def wait_open(self):
    self.wait_for("document.getElementById('status') && "
                  "document.getElementById('status').dataset.state === 'open'",
                  "the connected state")

  def send(self, name, text):
    self.eval("""(() => {
      document.getElementById('name').value = %s;
      document.getElementById('input').value = %s;
      document.getElementById('send').click();
      return true; })()""" % (json.dumps(name), json.dumps(text)))

  def wait_message(self, name, text):
    cond = ("[...document.querySelectorAll('#messages li')].find(li => li.dataset.text === %s "
            "&& %s)" % (json.dumps(text), "li.dataset.name === %s" % json.dumps(name)
                        if name is not None else "li.dataset.name === undefined"))
    self.wait_for(cond + " ? true : false", "message %r from %r" % (text, name))
    # Shown as text, not markup.
    markup = self.eval("document.querySelectorAll('#messages li b, #messages li img').length")
    check(markup == 0, "message text was rendered as HTML (%d elements)" % markup)


def chat_in_browser(binary):
  if not os.access(CHROMIUM, os.X_OK):
    if os.environ.get("NETMAN_WS_INTEROP_SKIP") == "1":
      print("SKIPPED (NETMAN_WS_INTEROP_SKIP=1): %s not found" % CHROMIUM)
      return
    raise TestFailure("%s not found: install Debian's chromium (tools/setup.sh does), or skip "
                      "with --test_env=NETMAN_WS_INTEROP_SKIP=1" % CHROMIUM)
  # The first server offers permessage-deflate (Chromium asks for it), the
  # one after the reconnect does not: the page works with both.
  server = ServerProcess(binary, "--mode=chat", "--loops=1", "--permessage_deflate=true")
  browser = None
  server2 = None
  try:
    browser = Browser()
    url = "http://127.0.0.1:%d/" % server.port
    a = browser.open_page(url)
    b = browser.open_page(url)
    a.wait_open()
    b.wait_open()
    ws_url = a.eval("location.href")
    check(ws_url == url, "page A is at %r" % ws_url)
    # A big message crosses deflate both ways (Chromium compresses it, the
    # server inflates, publishes compressed, Chromium inflates).
    for name, p in (("A", a), ("B", b)):
      exts = p.handshake_extensions()
      check(exts and "permessage-deflate" in exts[-1],
            "page %s's handshake did not negotiate permessage-deflate: %r" % (name, exts))
    big = "deflate me " * 2000
    a.send("alice", big)
    b.wait_message("alice", big)

    text = "hello from alice <b>not bold</b> \u00e9\u03ba"
    a.send("alice", text)
    b.wait_message("alice", text)
    a.wait_message("alice", text)
    b.send("bob", "hi alice")
    a.wait_message("bob", "hi alice")
    b.wait_message("bob", "hi alice")

    # A raw client on /chat sees the pages' JSON; its plain text shows as is.
    raw = WsClient.connect(server.port, path=b"/chat")
    a.send("alice", "to everyone")
    op, payload = raw.recv_message()
    check(op == OP_TEXT and json.loads(payload) == {"name": "alice", "text": "to everyone"},
          "the raw client got %r" % payload)
    raw.send_text("plain from python".encode())
    a.wait_message(None, "plain from python")
    b.wait_message(None, "plain from python")
    raw.close()

    # The server goes away: both pages say so and retry; a new server on the
    # same port gets them back.
    port = server.port
    server.stop()
    for p in (a, b):
      p.wait_for("document.getElementById('status').dataset.state === 'closed' && "
                 "/1001/.test(document.getElementById('status').textContent) && "
                 "/reconnecting/.test(document.getElementById('status').textContent)",
                 "the disconnected (1001) / reconnecting notice")
    server2 = ServerProcess(binary, "--mode=chat", "--loops=1", "--port=%d" % port)
    a.wait_open()
    b.wait_open()
    a.send("alice", "back again")
    b.wait_message("alice", "back again")
  finally:
    if browser:
      browser.close()
    server.kill()
    if server2:
      server2.stop()


def main():
  binary = sys.argv[1]
  suite = Suite("ws_chromium")
  suite.case("two Chromium pages chat through ws_server --mode=chat (send, show, reconnect)",
             chat_in_browser, binary)
  suite.finish()


if __name__ == "__main__":
  main()
