// Copyright netman authors.
//
// Interop with Node's `ws` client (npm, pinned in package.json and
// package-lock.json): a widely used client no one here wrote, which fails
// the connection on protocol errors by the server. Starts ws_server itself
// (plain, --permessage_deflate=true, --mode=chat) and checks:
//   * echo of text and binary up to 4 MiB, a fragmented send, ping -> pong
//     with the payload, close 1000 + reason -> 1000 back;
//   * perMessageDeflate: negotiated (ws.extensions), compressed echo, the
//     offer with serverNoContextTakeover / clientMaxWindowBits;
//   * 50 concurrent clients; chat between two clients; SIGTERM -> 1001.
// Writes JUnit XML to $XML_OUTPUT_FILE; exits 1 on any failure.
//
//   NODE_PATH=.../node_modules node interop.js WS_SERVER
'use strict';

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');

const IO_TIMEOUT_MS = 1000 * Number(process.env.NETMAN_WS_TEST_IO_TIMEOUT || 20);
const MIB = 1 << 20;

function check(cond, what) {
  if (!cond) throw new Error(what);
}

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out: ' + what)), IO_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ws_server on 127.0.0.1, any port; resolves once it prints its line.
function startServer(binary, flags) {
  return new Promise((resolve, reject) => {
    const proc = spawn(binary, ['--host=127.0.0.1', '--port=0', ...flags],
                       { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('no listening line: ' + out)), IO_TIMEOUT_MS);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^ws_server listening on 127\.0\.0\.1:(\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), flags });
      }
    });
    proc.on('exit', (code) => reject(new Error('ws_server exited ' + code + ': ' + out)));
  });
}

function stopServer(server) {
  return withTimeout(new Promise((resolve, reject) => {
    if (server.proc.exitCode !== null) {
      reject(new Error('ws_server already exited ' + server.proc.exitCode));
      return;
    }
    server.proc.removeAllListeners('exit');
    server.proc.on('exit', (code, sig) => {
      if (code === 0) resolve();
      else reject(new Error('ws_server exited ' + code + ' (signal ' + sig + ') on SIGTERM'));
    });
    server.proc.kill('SIGTERM');
  }), 'ws_server exit on SIGTERM');
}

// A connected client with a queue of received messages.
function connect(server, path, options) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket('ws://127.0.0.1:' + server.port + path,
                             { maxPayload: 16 * MIB, ...options });
    const queue = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      if (waiters.length) waiters.shift().resolve(m); else queue.push(m);
    });
    ws.on('close', (code, reason) => {
      ws.closeInfo = { code, reason: reason.toString() };
      for (const w of waiters.splice(0)) w.reject(new Error('closed ' + code + ' ' + reason));
    });
    ws.on('error', (e) => {
      for (const w of waiters.splice(0)) w.reject(e);
      reject(e);
    });
    ws.next = () => withTimeout(new Promise((res, rej) => {
      if (queue.length) res(queue.shift()); else waiters.push({ resolve: res, reject: rej });
    }), 'a message');
    ws.closed = () => withTimeout(new Promise((res) => {
      if (ws.closeInfo) res(ws.closeInfo); else ws.once('close', () => res(ws.closeInfo));
    }), 'the close');
    ws.on('open', () => resolve(ws));
  }), 'connect to ' + path);
}

async function echoCase(server, options, wantDeflate) {
  const ws = await connect(server, '/echo', options);
  const negotiated = ws.extensions.includes('permessage-deflate');
  check(negotiated === wantDeflate,
        'permessage-deflate negotiated: ' + negotiated + ' (extensions "' + ws.extensions +
        '"), want ' + wantDeflate);
  const texts = ['', 'a', 'h\u00e9llo \u03ba\u1f79\u03c3\u03bc\u03b5 \u{1F600}', 'x'.repeat(125),
                 'y'.repeat(126), 'z'.repeat(65536), 'word '.repeat(MIB / 5)];
  for (const t of texts) {
    ws.send(t);
    const m = await ws.next();
    check(!m.isBinary && m.data.toString() === t, 'text of ' + t.length + ' chars differs');
  }
  for (const n of [0, 1, 126, 65536, MIB, 4 * MIB]) {
    const b = crypto.randomBytes(n);
    ws.send(b);
    const m = await ws.next();
    check(m.isBinary && Buffer.compare(m.data, b) === 0, 'binary of ' + n + ' bytes differs');
  }
  // A fragmented text message: three frames, FIN on the last.
  ws.send('frag1 ', { fin: false });
  ws.send('frag2 ', { fin: false });
  ws.send('frag3', { fin: true });
  const f = await ws.next();
  check(f.data.toString() === 'frag1 frag2 frag3', 'fragmented text came back as ' + f.data);
  const pong = withTimeout(new Promise((res) => ws.once('pong', res)), 'the pong');
  ws.ping(Buffer.from('node ping'));
  check((await pong).toString() === 'node ping', 'pong payload differs');
  ws.close(1000, 'bye from node');
  const info = await ws.closed();
  check(info.code === 1000, 'close code ' + info.code + ' after our 1000');
}

async function deflateParams(server) {
  for (const opts of [{ serverNoContextTakeover: true }, { clientMaxWindowBits: 10 },
                      { clientNoContextTakeover: true, serverMaxWindowBits: 15 }]) {
    const ws = await connect(server, '/', { perMessageDeflate: { threshold: 0, ...opts } });
    check(ws.extensions.includes('permessage-deflate'),
          'offer ' + JSON.stringify(opts) + ' declined: "' + ws.extensions + '"');
    for (let i = 0; i < 10; i++) {
      const msg = ('compressible ' + i + ' ').repeat(500);
      ws.send(msg);
      check((await ws.next()).data.toString() === msg, 'echo with ' + JSON.stringify(opts));
    }
    ws.close();
    await ws.closed();
  }
}

async function concurrent(server, options) {
  await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const ws = await connect(server, '/', options);
    for (let j = 0; j < 20; j++) {
      const msg = 'client ' + i + ' message ' + j;
      ws.send(msg);
      check((await ws.next()).data.toString() === msg, 'client ' + i + ' echo ' + j);
    }
    ws.close();
    await ws.closed();
  }));
}

async function chat(server) {
  const a = await connect(server, '/chat', {});
  const b = await connect(server, '/chat', {});
  a.send('hello from a');
  check((await b.next()).data.toString() === 'hello from a', 'b did not get a\'s message');
  check((await a.next()).data.toString() === 'hello from a', 'a did not get its own message');
  b.send('hello from b');
  check((await a.next()).data.toString() === 'hello from b', 'a did not get b\'s message');
  check((await b.next()).data.toString() === 'hello from b', 'b did not get its own message');
  a.close();
  b.close();
  await Promise.all([a.closed(), b.closed()]);
}

async function goingAway(server) {
  const ws = await connect(server, '/', {});
  const exited = stopServer(server);
  const info = await ws.closed();
  check(info.code === 1001, 'close code ' + info.code + ' after SIGTERM, want 1001');
  await exited;
}

async function main() {
  const binary = process.argv[2];
  console.log('node ' + process.version + ', ws ' + require('ws/package.json').version);
  const results = [];
  async function runCase(name, fn) {
    const start = Date.now();
    try {
      await fn();
      results.push({ name, seconds: (Date.now() - start) / 1000 });
      console.log('ok   ' + name);
    } catch (e) {
      results.push({ name, seconds: (Date.now() - start) / 1000, failure: String(e.stack || e) });
      console.log('FAIL ' + name + '\n    ' + String(e.stack || e).replace(/\n/g, '\n    '));
    }
  }
  const servers = [];
  try {
    const plain = await startServer(binary, ['--loops=2']);
    servers.push(plain);
    const deflate = await startServer(binary, ['--loops=2', '--permessage_deflate=true']);
    servers.push(deflate);
    const chatServer = await startServer(binary, ['--loops=2', '--mode=chat']);
    servers.push(chatServer);
    await runCase('echo without compression', () => echoCase(plain, { perMessageDeflate: false },
                                                             false));
    await runCase('perMessageDeflate offer to a server without deflate: declined',
                  () => echoCase(plain, { perMessageDeflate: true }, false));
    await runCase('echo with perMessageDeflate (threshold 0: every message compressed)',
                  () => echoCase(deflate, { perMessageDeflate: { threshold: 0 } }, true));
    await runCase('perMessageDeflate parameter offers', () => deflateParams(deflate));
    await runCase('50 concurrent clients, no compression',
                  () => concurrent(plain, { perMessageDeflate: false }));
    await runCase('50 concurrent clients, perMessageDeflate',
                  () => concurrent(deflate, { perMessageDeflate: { threshold: 0 } }));
    await runCase('chat mode: two clients see each other\'s messages', () => chat(chatServer));
    await runCase('SIGTERM: close 1001, exit 0', () => goingAway(plain));
    await runCase('SIGTERM (deflate server): exit 0', () => stopServer(deflate));
    await runCase('SIGTERM (chat server): exit 0', () => stopServer(chatServer));
  } catch (e) {
    results.push({ name: 'start ws_server', seconds: 0, failure: String(e.stack || e) });
    console.log('FAIL start ws_server: ' + e);
  } finally {
    for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  }
  const failed = results.filter((r) => r.failure);
  if (process.env.XML_OUTPUT_FILE) {
    const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
                        .replace(/"/g, '&quot;');
    let xml = '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n<testsuite ' +
              'name="ws_interop_node" tests="' + results.length + '" failures="' +
              failed.length + '">\n';
    for (const r of results) {
      xml += '  <testcase name="' + esc(r.name) + '" classname="ws_interop_node" time="' +
             r.seconds.toFixed(3) + '"';
      xml += r.failure ? '>\n    <failure message="' + esc(r.failure.split('\n')[0]) + '">' +
             esc(r.failure) + '</failure>\n  </testcase>\n' : '/>\n';
    }
    fs.writeFileSync(process.env.XML_OUTPUT_FILE, xml + '</testsuite>\n</testsuites>\n');
  }
  console.log('ws_interop_node: ' + results.length + ' cases, ' + failed.length + ' failed');
  process.exit(failed.length || !results.length ? 1 : 0);
}

main();
