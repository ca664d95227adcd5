// What the browser tests share: tokens minted with Node's own HMAC (independently of the
// server's code), a musterd started on a free loopback port in its own directory, and checks.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SECRET = 'browser-test-secret-0123456789';
export const deadline = (ms) => Date.now() + ms;

function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

export function token(sub, name, role, { exp = Math.floor(Date.now() / 1000) + 3600, secret = SECRET } = {}) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify({ sub, name, role, exp }));
  const sig = b64url(createHmac('sha256', secret).update(`${header}.${claims}`).digest());
  return `${header}.${claims}.${sig}`;
}

// The console of this source tree (whatever musterd was built from); its vendor/ modules come
// from clients/web-deps/install.sh.
export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'clients', 'web');

// `extra`: further musterd arguments, e.g. ['--set', 'crisis.triage_channel="x"']. `port`: listen
// there instead of a free port (a restart on the port a killed server had).
export async function startServer(musterd, dir, extra = [], { port = 0 } = {}) {
  if (!existsSync(path.join(WEB_ROOT, 'vendor', 'preact.mjs')))
    throw new Error(`${WEB_ROOT}/vendor is missing: run bash clients/web-deps/install.sh`);
  const portFile = path.join(dir, 'port');
  rmSync(portFile, { force: true });
  // The default engine keeps its database in this run's own directory.
  const proc = spawn(musterd, ['--listen', `127.0.0.1:${port}`, '--port-file', portFile,
    '--set', 'log.level="info"', '--set', `storage.path="${path.join(dir, 'muster.db')}"`,
    '--set', `server.web_root="${WEB_ROOT}"`, ...extra], {
    env: { ...process.env, MUSTER_AUTH_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const until = deadline(10000);
  while (Date.now() < until) {
    if (existsSync(portFile)) {
      const text = readFileSync(portFile, 'utf8').trim();
      if (text) return { proc, port: Number(text), log: () => log };
    }
    if (proc.exitCode !== null) throw new Error(`musterd exited: ${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  proc.kill('SIGKILL');
  throw new Error('musterd did not start');
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

// Debian's chromium, never a downloaded browser.
export async function launchChromium(chromium) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

// A failed run: the error, then the server's log to explain it.
export function failed(err, server) {
  console.error(err);
  console.error('--- musterd log ---\n' + server.log());
  process.exitCode = 1;
}

export async function stopServer(server) {
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) return;
  server.proc.kill('SIGTERM');
  await new Promise((r) => server.proc.once('exit', r));
}

// A crash, not a shutdown: nothing is flushed or closed cleanly.
export async function killServer(server) {
  server.proc.kill('SIGKILL');
  if (server.proc.exitCode === null && server.proc.signalCode === null) await new Promise((r) => server.proc.once('exit', r));
}
