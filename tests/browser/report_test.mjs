// The post-crisis report's HTML page in Debian's chromium, driven by playwright-core: after a
// small crisis (a lead, an ambassador, a bot; over the WebSocket and HTTP APIs), the page is
// opened as a lead and must make no request but its own, show its SVG charts, and log no error
// (its CSP forbids everything but inline styles). A full-page screenshot goes to the artifacts.
//
// Usage: node report_test.mjs PATH_TO_MUSTERD ARTIFACTS_DIR
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { check, failed, launchChromium, startServer, stopServer, token } from './harness.mjs';

const [musterd, artifacts = 'browser-artifacts'] = process.argv.slice(2);
if (!musterd) {
  console.error('usage: node report_test.mjs PATH_TO_MUSTERD [ARTIFACTS_DIR]');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const CHANNEL = 'crisis.kettle';

// Runs crisis commands over one WebSocket from a blank page, one after another; returns the
// results (an error reply throws).
async function commands(page, port, who, list) {
  return page.evaluate(async ({ url, list }) => {
    const ws = new WebSocket(url);
    const pending = new Map();
    ws.onmessage = (m) => {
      const reply = JSON.parse(m.data);
      if (pending.has(reply.id)) pending.get(reply.id)(reply);
    };
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    let id = 0;
    const call = (cmd) => new Promise((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, ...cmd }));
    });
    const results = [];
    for (const cmd of [{ op: 'connect', name: 'x' }, ...list]) {
      const reply = await call(cmd);
      if (reply.error) throw new Error(`${cmd.op}: ${reply.error.message}`);
      results.push(reply.result);
    }
    ws.close();
    return results.slice(1);
  }, { url: `ws://127.0.0.1:${port}/ws?token=${who}`, list });
}

async function pushAlert(port, bot, n, severity) {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${bot}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ source: 'x', url: `https://x.com/brand/status/${n}`, author: `@user${n}`,
      text: `My kettle <b>${n}</b> "caught fire"`, severity,
      metrics: { reach: n > 22 ? 20000 + 1000 * n : 1000 + 10 * n },
      channel: CHANNEL }),
  });
  check(res.status === 202, `alert ${n} pushed over HTTP`);
  return (await res.json()).alert.id;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// A drill: a steady trickle of posts for longer than the spike window, a burst (one spike), a
// folded duplicate, a revised holding statement with acks, replies approved (one edited, one
// rejected first, one from a template), and alerts left to escalate.
async function runCrisis(browser, port) {
  const lead = token('lena', 'Lena Park', 'lead');
  const ana = token('ana', 'Ana', 'ambassador');
  const ben = token('ben', 'Ben', 'ambassador');
  const bot = token('scout', 'Scout', 'bot');
  const context = await browser.newContext();
  const page = await context.newPage();
  // A page of the server's own origin: other origins may not open /ws (server.allowed_origins).
  await page.goto(`http://127.0.0.1:${port}/healthz`);
  const [, , g] = await commands(page, port, lead, [
    { op: 'channel.create', channel: CHANNEL, title: 'Kettle recall <drill> "KX-200"',
      severity: 'sev2', drill: true, approval: { required: true } },
    { op: 'template.put', channel: CHANNEL, name: 'apology', title: 'Apology',
      text: 'We are sorry. Please DM us your order number.' },
    { op: 'guidance.post', channel: CHANNEL, kind: 'holding_statement',
      title: 'Holding statement', body: 'We are investigating.' }]);
  await commands(page, port, ben, [{ op: 'subscribe', channel: CHANNEL },
    { op: 'guidance.ack', channel: CHANNEL, guidance: g.guidance.id }]);
  const ids = [];
  const sevs = ['sev2', 'sev3', 'sev1', 'sev3', 'sev4', 'sev3'];
  // One a second for 22 s: more than a window (10 s) of history before the window, then a burst.
  for (let n = 1; n <= 22; n++) {
    ids.push(await pushAlert(port, bot, n, sevs[n % sevs.length]));
    await sleep(1000);
  }
  for (let n = 23; n <= 57; n++) ids.push(await pushAlert(port, bot, n, sevs[n % sevs.length]));
  await pushAlert(port, bot, 1, 'sev2');  // a duplicate, folded
  await commands(page, port, lead, [{ op: 'guidance.revise', channel: CHANNEL,
    guidance: g.guidance.id, body: 'We have recalled the KX-200.', changes: 'recall confirmed' }]);
  const [, , p1] = await commands(page, port, ana, [
    { op: 'subscribe', channel: CHANNEL },
    { op: 'alert.claim', channel: CHANNEL, alert: ids[0] },
    { op: 'alert.propose', channel: CHANNEL, alert: ids[0], text: 'Sorry!' },
    { op: 'guidance.ack', channel: CHANNEL, guidance: g.guidance.id },
    { op: 'alert.claim', channel: CHANNEL, alert: ids[2] },
    { op: 'alert.propose', channel: CHANNEL, alert: ids[2], template: 'apology' },
    { op: 'alert.respond', channel: CHANNEL, alert: ids[2], reply_url: 'https://x.com/brand/reply/3' }]);
  await commands(page, port, lead, [{ op: 'alert.reject', channel: CHANNEL, alert: ids[0],
    proposal: p1.proposal.id, comment: 'Say what we are doing' }]);
  const [p2] = await commands(page, port, ana, [{ op: 'alert.propose', channel: CHANNEL,
    alert: ids[0], text: 'Sorry - we are recalling it' }]);
  await commands(page, port, lead, [{ op: 'alert.approve', channel: CHANNEL, alert: ids[0],
    proposal: p2.proposal.id, text: 'We are sorry. The KX-200 is being recalled: see our site.' }]);
  await commands(page, port, ana, [{ op: 'alert.respond', channel: CHANNEL, alert: ids[0],
    reply_url: 'https://x.com/brand/reply/1' }]);
  const [, p3] = await commands(page, port, ben, [
    { op: 'alert.claim', channel: CHANNEL, alert: ids[5] },
    { op: 'alert.propose', channel: CHANNEL, alert: ids[5], text: 'Thanks for flagging this.' }]);
  await commands(page, port, lead, [{ op: 'alert.approve', channel: CHANNEL, alert: ids[5],
    proposal: p3.proposal.id }]);
  await commands(page, port, ben, [{ op: 'alert.respond', channel: CHANNEL, alert: ids[5],
    reply_url: 'https://x.com/brand/reply/6' }]);
  await context.close();
}

async function run() {
  const dir = mkdtempSync(path.join(tmpdir(), 'muster-report-'));
  const server = await startServer(musterd, dir, ['--set', 'crisis.scan_interval_ms=100',
    '--set', 'spike.window_s=10', '--set', 'spike.baseline_s=60', '--set', 'spike.min_alerts=3',
    '--set', 'spike.raise_severity=true', '--set', 'escalation.sev1_escalate_after_s=5',
    '--set', 'escalation.sev2_escalate_after_s=8']);
  const browser = await launchChromium(chromium);
  try {
    await runCrisis(browser, server.port);
    const url = `http://127.0.0.1:${server.port}/api/v1/channels/${CHANNEL}/report?format=html`;
    const context = await browser.newContext({
      viewport: { width: 1100, height: 900 },
      extraHTTPHeaders: { Authorization: `Bearer ${token('lena', 'Lena Park', 'lead')}` },
    });
    const page = await context.newPage();
    const requests = [];
    const problems = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    const res = await page.goto(url, { waitUntil: 'load' });
    check(res.status() === 200, 'the lead opens the HTML report');
    check(res.headers()['content-security-policy'].startsWith("default-src 'none'"), 'it is sent with a CSP that forbids loading anything');
    await page.waitForLoadState('networkidle');
    check(requests.length === 1 && requests[0] === url, `the page made no request but its own (${requests.join(', ')})`);
    check(problems.length === 0, `no console error or CSP violation (${problems.join(' | ')})`);
    check((await page.title()) === 'Report: Kettle recall <drill> "KX-200"', 'the title is the channel title, as text');
    check(await page.locator('h1').textContent() === 'Kettle recall <drill> "KX-200"', 'the heading shows the hostile title as text');
    const charts = page.locator('svg.chart');
    const count = await charts.count();
    check(count >= 4, `volume, two histograms and an ack curve are drawn (${count} charts)`);
    for (let i = 0; i < count; i++) {
      const chart = charts.nth(i);
      const box = await chart.boundingBox();
      check(await chart.isVisible() && box.width > 300 && box.height > 80, `chart ${i + 1} (${await chart.getAttribute('aria-label')}) is visible`);
    }
    const bars = await page.locator('svg.chart').first().locator('rect').count();
    check(bars >= 3, `the volume chart has bars for the new alerts (${bars})`);
    check(await page.locator('table').count() >= 5, 'the report has its tables');
    check(await page.locator('a[href^="javascript:"]').count() === 0, 'no javascript: link');
    const people = await page.locator('section[aria-labelledby=people] tbody tr').allTextContents();
    check(people.length === 2 && people[0].startsWith('Ana') && people[1].startsWith('Ben'), `people by score: ${people.map((p) => p.slice(0, 12))}`);
    const text = await page.locator('body').textContent();
    check(/Drill/i.test(text), 'the report says it is a drill');
    const spikes = await page.locator('svg.chart').first().locator('.spike, [data-spike]').count();
    check(spikes >= 1 || /Spikes\s*1/.test(text), 'the burst shows as a spike');
    await page.screenshot({ path: path.join(artifacts, 'report.png'), fullPage: true });
    console.log('browser report test: all checks passed');
  } catch (err) {
    failed(err, server);
  } finally {
    await browser.close();
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

run();
