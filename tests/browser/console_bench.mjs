// Benchmark of the web console (not a test): 1,000 alerts pushed in one burst (HTTP, 64 in
// flight) into a channel a lead has open on a 1440x900 desktop in Debian's chromium. Prints the
// time until all 1,000 are listed (the New tab's count), the longest main-thread task
// (PerformanceObserver "longtask"; the console applies events in batches, once per animation
// frame, so also the longest batch with its render), the cost of one live event with 1,000 listed (a duplicate trigger: alert.updated),
// and the page's JS heap after a garbage collection.
//
// Usage: node console_bench.mjs PATH_TO_MUSTERD [ALERTS]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { launchChromium, startServer, stopServer, token } from './harness.mjs';

const [musterd, count = '1000'] = process.argv.slice(2);
if (!musterd) {
  console.error('usage: node console_bench.mjs PATH_TO_MUSTERD [ALERTS]');
  process.exit(2);
}
const N = Number(count);
const CHANNEL = 'crisis.bench';

// In the page: long tasks, long animation frames, each WebSocket message handler's duration, and
// each batched flush of events (store.js flushEvents, from a frame or a timer) up to the end of
// the microtasks it queued (Preact renders in a microtask after the signals change).
function instrument() {
  window.__long = [];
  window.__frames = [];
  window.__flushes = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push(e.duration); })
    .observe({ type: 'longtask', buffered: true });
  const timed = (fn) => (...args) => {
    const t0 = performance.now();
    fn(...args);
    Promise.resolve().then(() => Promise.resolve()).then(() => window.__flushes.push(performance.now() - t0));
  };
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (fn) => raf(fn.name === 'flushEvents' ? timed(fn) : fn);
  const timer = window.setTimeout.bind(window);
  window.setTimeout = (fn, ...rest) => timer(fn && fn.name === 'flushEvents' ? timed(fn) : fn, ...rest);
  const desc = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  Object.defineProperty(WebSocket.prototype, 'onmessage', {
    set(fn) {
      desc.set.call(this, (ev) => {
        const t0 = performance.now();
        fn(ev);
        const name = (/"event":"([^"]+)"/.exec(ev.data) || [])[1] || 'reply';
        Promise.resolve().then(() => Promise.resolve()).then(() => window.__frames.push({ name, ms: performance.now() - t0 }));
      });
    },
    get() { return desc.get.call(this); },
  });
}

async function pushAll(port, bot, bodies, inFlight = 64) {
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`, {
        method: 'POST', headers: { authorization: `Bearer ${bot}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      if (res.status !== 202) throw new Error(`push: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

const dir = mkdtempSync(path.join(tmpdir(), 'muster-bench-'));
const server = await startServer(musterd, dir);
const browser = await launchChromium(chromium);
try {
  const lead = token('lena', 'Lena', 'lead');
  const bot = token('scout', 'Scout', 'bot');
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addInitScript(instrument);
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/#token=${lead}`);
  await page.waitForSelector('#conn[data-state=online]');
  await page.click('.create summary');
  await page.fill('#create-name', CHANNEL);
  await page.fill('#create-title', 'Bench');
  await page.click('#create-channel button[type=submit]');
  await page.waitForSelector('#channel-title:has-text("Bench")');
  await page.evaluate(() => { window.__long.length = 0; window.__frames.length = 0; window.__flushes.length = 0; });

  const sevs = ['sev1', 'sev2', 'sev3', 'sev4'];
  const bodies = Array.from({ length: N }, (_, i) => ({ channel: CHANNEL, source: ['x', 'reddit', 'mastodon', 'news'][i % 4],
    url: `https://social.example/post/${i}`, author: `@user${i}`, text: `Post ${i}: my kettle ${'is smoking '.repeat(1 + (i % 20))}`,
    severity: sevs[i % 4], metrics: { reach: (i * 7919) % 3000000 } }));
  const t0 = Date.now();
  const pushed = pushAll(server.port, bot, bodies);
  await page.waitForFunction((n) => document.querySelector('#tab-new .count')?.textContent === String(n), N, { timeout: 120000, polling: 50 });
  const listed = Date.now() - t0;
  await pushed;
  const pushMs = Date.now() - t0;
  const burst = await page.evaluate(() => ({ long: [...window.__long], frames: window.__frames.filter((f) => f.name !== 'reply'),
    flushes: [...window.__flushes] }));

  // One live event with everything listed: a duplicate trigger of a listed alert.
  await page.evaluate(() => { window.__frames.length = 0; window.__long.length = 0; window.__flushes.length = 0; });
  await pushAll(server.port, bot, [{ ...bodies[N - 1], metrics: { reach: 5000000 } }], 1);
  await page.waitForFunction(() => window.__frames.find((f) => f.name === 'alert.updated'), null, { timeout: 5000 });
  const one = await page.waitForFunction(() => window.__flushes.length && window.__flushes, null, { timeout: 5000 });
  const live = Math.max(...(await one.jsonValue()));
  const liveLong = await page.evaluate(() => [...window.__long]);

  const cdp = await context.newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await page.evaluate(() => performance.memory.usedJSHeapSize);
  const rows = await page.evaluate(() => document.querySelectorAll('#alert-list > li').length);

  const maxLong = burst.long.length ? Math.max(...burst.long) : 0;
  const maxFrame = Math.max(...burst.frames.map((f) => f.ms));
  const slowest = burst.frames.findIndex((f) => f.ms === maxFrame);
  console.log(`alerts pushed: ${N} (HTTP, 64 in flight; all accepted after ${pushMs} ms)`);
  console.log(`time until all ${N} are listed: ${listed} ms after the burst began`);
  console.log(`long tasks (>= 50 ms) during the burst: ${burst.long.length}${burst.long.length ? `, longest ${Math.round(maxLong)} ms` : ''}`);
  console.log(`longest WebSocket message handler during the burst: ${maxFrame.toFixed(1)} ms (${burst.frames.length} events; the slowest, #${slowest + 1}, ${burst.frames[slowest].name}; median ${[...burst.frames].sort((x, y) => x.ms - y.ms)[burst.frames.length >> 1].ms.toFixed(2)} ms)`);
  const fl = burst.flushes;
  console.log(`batched flushes (events applied + render) during the burst: ${fl.length}, longest ${Math.max(...fl).toFixed(1)} ms, median ${[...fl].sort((x, y) => x - y)[fl.length >> 1].toFixed(1)} ms`);
  console.log(`one live event (alert.updated) with ${N} listed: ${live.toFixed(2)} ms${liveLong.length ? `, long tasks ${liveLong.map(Math.round)}` : ', no long task'}`);
  console.log(`queue cards in the DOM (windowed): ${rows}`);
  console.log(`JS heap after GC: ${(heap / 1048576).toFixed(1)} MiB`);
} finally {
  await browser.close();
  await stopServer(server);
  rmSync(dir, { recursive: true, force: true });
}
