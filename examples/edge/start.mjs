#!/usr/bin/env node
// Origin, two edges and HAProxy on loopback, each on a free port:
//
//   origin:  mkvserve INPUT                                   (the demo clip when no INPUT is given)
//   edges:   mkvserve http://127.0.0.1:<origin>/stream --reconnect      (x2)
//   haproxy: haproxy.cfg here, health-checking each edge's /api/status
//
// Viewers connect to HAProxy, HAProxy to the edges, the edges to the origin: the origin sends each
// stream once per edge, whatever the number of viewers. When the origin exits (kill it to see), it is
// started again on its port: the edges reconnect and splice its new stream in, their viewers stay.
// Ctrl-C (or SIGTERM) stops everything.
//
//   node examples/edge/start.mjs [INPUT] [--port N]
//
// It prints one line per process ("origin pid 123 http://127.0.0.1:40001/stream") and, when HAProxy
// answers, "ready http://127.0.0.1:<port>/stream". mkvserve is this repository's (packages/server),
// or $MKVSERVE (e.g. MKVSERVE=mkvserve for an installed one); haproxy is found on the PATH or in $HAPROXY.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const args = process.argv.slice(2);
let frontPort = 0;
const portAt = args.indexOf('--port');
if (portAt >= 0) {
  frontPort = Number(args[portAt + 1]);
  args.splice(portAt, 2);
  if (!Number.isInteger(frontPort) || frontPort < 0 || frontPort > 65535) fail('--port needs a port number');
}
const input = args[0];
const mkvserve = process.env.MKVSERVE
  ? [process.env.MKVSERVE]
  : [process.execPath, here('../../packages/server/bin/mkvserve.js')];
const haproxy = process.env.HAPROXY || 'haproxy';
/** The running process of each role (a restarted origin replaces the old one). */
const children = new Map();
/** Stop order: no edge sees its origin go first, HAProxy goes before the edges. */
const STOP_ORDER = ['haproxy', 'edge2', 'edge1', 'origin'];
let stopping = false;

function fail(msg) {
  process.stderr.write(`edge example: ${msg}\n`);
  process.exit(1);
}

/** Shows a child's output lines on our stderr, prefixed with its name. */
function prefix(name, stream) {
  let rest = '';
  stream.on('data', (d) => {
    const lines = (rest + d).split('\n');
    rest = lines.pop();
    for (const l of lines) process.stderr.write(`[${name}] ${l}\n`);
  });
}

/** Starts a process; its stderr lines are shown prefixed with its name; `onExit` runs if it exits on its own. */
function start(name, cmd, cmdArgs, env = {}, onExit = () => {}) {
  const child = spawn(cmd[0], [...cmd.slice(1), ...cmdArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.set(name, child);
  prefix(name, child.stderr);
  child.on('error', (err) => {
    if (!stopping) fail(`cannot start ${name} (${cmd[0]}): ${err.message}`);
  });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    process.stderr.write(`edge example: ${name} exited (${signal ?? `code ${code}`})\n`);
    onExit();
  });
  return child;
}

/** Starts mkvserve and resolves with the stream URL it prints ("mkvserve: serving X at URL"). */
function startMkvserve(name, mkArgs, port = 0, onExit = () => {}) {
  let listened = false;
  const child = start(name, mkvserve, [...mkArgs, '--port', String(port), '--quiet'], {}, () => {
    if (listened) onExit();
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const m = / at (http:\/\/\S+)/.exec(out);
      if (m && !listened) {
        listened = true;
        resolve({ child, url: m[1] });
      }
    });
    child.on('exit', () => {
      if (!listened) reject(Object.assign(new Error(`${name} exited before it listened`), { stderr: err }));
    });
  });
}

const restarts = [];
/** The origin exited: start it again on the same port (the edges know it by its URL). */
async function restartOrigin(mkArgs, port) {
  if (stopping) return;
  const now = Date.now();
  while (restarts.length > 0 && now - restarts[0] > 60_000) restarts.shift();
  if (restarts.length >= 5) {
    process.stderr.write('edge example: the origin exited 5 times within a minute; stopping\n');
    return stop(1);
  }
  restarts.push(now);
  for (let attempt = 0; attempt < 50 && !stopping; attempt++) {
    try {
      const o = await startMkvserve('origin', mkArgs, port, () => void restartOrigin(mkArgs, port));
      console.log(`origin restarted pid ${o.child.pid} ${o.url}`);
      return;
    } catch (err) {
      if (!/already in use/.test(err.stderr ?? '')) {
        process.stderr.write(`edge example: cannot start the origin again: ${err.message}\n`);
        return stop(1);
      }
      await new Promise((r) => setTimeout(r, 100)); // the port is still being released
    }
  }
}

/** A port that is free now (HAProxy cannot report the port it got for 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForHttp(port, path, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing answered on port ${port} within ${timeoutMs} ms`);
}

/** Stops HAProxy, then the edges, then the origin (so that no edge sees its origin go first). */
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const name of STOP_ORDER) {
    const c = children.get(name);
    if (!c || c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  const originArgs = input ? [input, '--loop'] : [];
  let originPort = 0;
  const origin = await startMkvserve('origin', originArgs, 0, () => void restartOrigin(originArgs, originPort));
  originPort = Number(new URL(origin.url).port);
  console.log(`origin pid ${origin.child.pid} ${origin.url}`);
  const edges = [];
  for (const name of ['edge1', 'edge2']) {
    const e = await startMkvserve(name, [origin.url, '--reconnect']);
    console.log(`${name} pid ${e.child.pid} ${e.url}`);
    edges.push(e);
  }
  const env = {
    FRONT_PORT: String(frontPort || (await freePort())),
    STATS_PORT: String(await freePort()),
    EDGE1_PORT: new URL(edges[0].url).port,
    EDGE2_PORT: new URL(edges[1].url).port,
  };
  // Without HAProxy there is nothing left to show; an edge may go (HAProxy routes around it).
  const hp = start('haproxy', [haproxy], ['-db', '-f', here('haproxy.cfg')], env, () => void stop(1));
  prefix('haproxy', hp.stdout);
  console.log(`haproxy pid ${hp.pid} stats http://127.0.0.1:${env.STATS_PORT}/stats`);
  await waitForHttp(Number(env.FRONT_PORT), '/', 15_000);
  const path = new URL(origin.url).pathname;
  console.log(`ready http://127.0.0.1:${env.FRONT_PORT}${path}`);
  console.log(`(player: http://127.0.0.1:${env.FRONT_PORT}${path}/player; Ctrl-C stops everything)`);
} catch (err) {
  process.stderr.write(`edge example: ${err.message}\n`);
  await stop(1);
}
