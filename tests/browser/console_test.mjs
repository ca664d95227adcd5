// End-to-end test of the web console in Debian's chromium, driven by playwright-core: a lead and
// two ambassadors in separate browser contexts (the ambassadors on a 390-px phone screen), a
// bot pushing an alert over HTTP, a claim seen by the other ambassador within a second,
// guidance acknowledged by one of two, and a connection cut and restored without missing or
// duplicating messages. Screenshots of the main screens go to the artifacts folder.
//
// Usage: node console_test.mjs PATH_TO_MUSTERD ARTIFACTS_DIR
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { check, failed, launchChromium, startServer as startMusterd, stopServer, token } from './harness.mjs';

const [musterd, artifacts = 'browser-artifacts'] = process.argv.slice(2);
if (!musterd) {
  console.error('usage: node console_test.mjs PATH_TO_MUSTERD [ARTIFACTS_DIR]');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const startServer = (dir) => startMusterd(musterd, dir);

// A TCP proxy whose connections can be cut (and new ones refused) and then restored.
function startProxy(upstreamPort) {
  const sockets = new Set();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    const up = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(up);
    client.pipe(up);
    up.pipe(client);
    const done = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('error', done);
    up.on('error', done);
    client.on('close', done);
    up.on('close', done);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      cut() {
        cut = true;
        for (const s of sockets) s.destroy();
      },
      restore() {
        cut = false;
      },
      close() {
        for (const s of sockets) s.destroy();
        server.close();
      },
    }));
  });
}

async function signIn(browser, port, who, viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${who.name}] page error: ${err.message}`));
  await page.goto(`http://127.0.0.1:${port}/#token=${who.token}`);
  await page.waitForSelector('#conn[data-state=online]', { timeout: 10000 });
  return { context, page };
}

async function run() {
  const dir = mkdtempSync(path.join(tmpdir(), 'muster-browser-'));
  const server = await startServer(dir);
  const proxy = await startProxy(server.port);
  const browser = await launchChromium(chromium);
  const lead = { name: 'Lena', token: token('lena', 'Lena', 'lead') };
  const ana = { name: 'Ana', token: token('ana', 'Ana', 'ambassador') };
  const ben = { name: 'Ben', token: token('ben', 'Ben', 'ambassador') };
  const bot = token('scout', 'Scout', 'bot');
  const phone = { width: 390, height: 844 };
  try {
    // The lead opens the crisis channel that untriaged alerts land in.
    const L = await signIn(browser, server.port, lead, { width: 1280, height: 900 });
    await L.page.fill('#create-name', 'triage');
    await L.page.fill('#create-title', 'Kettle recall');
    await L.page.selectOption('#create-severity', 'sev2');
    await L.page.click('#create-channel button[type=submit]');
    await L.page.waitForSelector('#channel-title:has-text("Kettle recall")');
    check(true, 'lead opened a crisis channel from the console');

    // Ambassador Ana reaches the server through the cuttable proxy; Ben directly.
    const A = await signIn(browser, proxy.port, ana, phone);
    const B = await signIn(browser, server.port, ben, phone);
    for (const X of [A, B]) {
      await X.page.click('.channel-link:has-text("Kettle recall")');
      await X.page.waitForSelector('#channel-title:has-text("Kettle recall")');
      const badges = await X.page.textContent('#channel-badges');
      check(/sev2/i.test(badges) && /open/i.test(badges), 'channel shows severity and status badges');
    }
    // Both subscribed: the lead sees them present.
    await L.page.waitForFunction(() => document.querySelectorAll('#presence-list li').length >= 3,
      null, { timeout: 5000 });
    check(true, 'presence lists the lead and both ambassadors');

    // A bot pushes an alert over HTTP; both ambassadors see it live.
    const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bot}`, 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'x', url: 'https://x.com/kettlefan/status/42', author: '@kettlefan',
        text: 'My KX-200 kettle caught fire!!', severity: 'sev1', metrics: { reach: 120000 } }),
    });
    check(res.status === 202, 'bot pushed an alert over HTTP');
    const alertId = (await res.json()).alert.id;
    const card = `[data-alert="${alertId}"]`;
    await A.page.waitForSelector(card, { timeout: 5000 });
    await B.page.waitForSelector(card, { timeout: 5000 });
    check(true, 'both ambassadors see the new alert');
    // A bot-supplied script URL is refused by the server; none ever becomes a link.
    const evil = await fetch(`http://127.0.0.1:${server.port}/api/v1/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bot}`, 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'x', url: 'javascript://x.com/%0aalert(1)', text: 'click me' }),
    });
    const refusal = await evil.json();
    check(evil.status === 400 && refusal.error && refusal.error.code === 'bad_request' &&
          refusal.error.message === 'url must be an http or https URL', 'a javascript: URL is refused');
    check(await A.page.locator('a[href^="javascript"]').count() === 0, 'no javascript: link on the page');
    await A.page.screenshot({ path: path.join(artifacts, 'ambassador-alert-queue-phone.png'), fullPage: true });

    // Ben watches every alert; Ana claims; Ben sees it claimed within a second.
    await B.page.click('[role=tab][data-filter=all]');
    await A.page.click(`${card} button.claim`);
    await A.page.click('[role=tab][data-filter=mine]');
    await A.page.waitForSelector(`${card}[data-status=claimed]`, { timeout: 5000 });
    const t0 = Date.now();
    await B.page.waitForSelector(`${card}[data-status=claimed]`, { timeout: 1000 });
    check(Date.now() - t0 <= 1000, `the other ambassador saw the claim within a second (${Date.now() - t0} ms after the claimer)`);
    const meta = await B.page.textContent(`${card} .meta`);
    check(meta.includes('Ana'), 'the claim names who holds it');
    check(await B.page.locator(`${card} button.claim`).count() === 0, 'no claim button on a claimed alert');

    // The lead broadcasts guidance; Ana acknowledges; the lead sees 1 of 2, and who is missing.
    await L.page.selectOption('#g-kind', 'holding_statement');
    await L.page.fill('#g-title', 'Holding statement');
    await L.page.fill('#g-body', 'We are aware of reports about the KX-200 and are investigating.');
    await L.page.click('#post-guidance button[type=submit]');
    await A.page.waitForSelector('.guidance-item button.ack', { timeout: 5000 });
    await B.page.waitForSelector('.guidance-item button.ack', { timeout: 5000 });
    await A.page.click('.guidance-item button.ack');
    await L.page.waitForSelector('.guidance-item .progress:has-text("1 of 2 acknowledged")', { timeout: 5000 });
    const pending = await L.page.textContent('.guidance-item .pending');
    check(pending.includes('Ben') && !pending.includes('Ana'), 'the lead sees exactly who has not acknowledged');
    await L.page.screenshot({ path: path.join(artifacts, 'lead-console.png'), fullPage: true });

    // The lead adds an approved reply; the ambassadors get it live.
    await L.page.fill('#t-name', 'kettle-fire');
    await L.page.fill('#t-text', 'We are sorry to hear this. Please unplug the kettle and DM us.');
    await L.page.click('#put-template button[type=submit]');
    await A.page.waitForSelector('[data-template="kettle-fire"]', { timeout: 5000 });
    await B.page.waitForSelector('[data-template="kettle-fire"]', { timeout: 5000 });
    check(true, 'an approved reply added by the lead reaches the ambassadors');

    // Ana responds with a reply URL.
    await A.page.fill(`${card} input[name=reply]`, 'https://x.com/brand/status/43');
    await A.page.click(`${card} form.respond button[type=submit]`);
    await B.page.waitForSelector(`${card}[data-status=responded]`, { timeout: 5000 });
    check(true, 'a response is seen live by the others');

    // Ana's connection is cut; messages sent meanwhile appear once after it comes back.
    proxy.cut();
    await A.page.waitForSelector('#conn[data-state=offline], #conn[data-state=connecting]', { timeout: 5000 });
    check(true, 'the console shows the lost connection');
    await A.page.screenshot({ path: path.join(artifacts, 'ambassador-offline-phone.png'), fullPage: true });
    for (const n of [1, 2, 3]) {
      await L.page.fill('#message', `update ${n} while Ana is away`);
      await L.page.click('#composer button[type=submit]');
      await L.page.waitForSelector(`.message:has-text("update ${n} while Ana is away")`);
    }
    proxy.restore();
    await A.page.waitForSelector('#conn[data-state=online]', { timeout: 15000 });
    for (const n of [1, 2, 3])
      await A.page.waitForSelector(`.message:has-text("update ${n} while Ana is away")`, { timeout: 5000 });
    // A little longer: a duplicate would show up now if it were coming.
    await A.page.waitForTimeout(500);
    const counts = await A.page.evaluate(() => [1, 2, 3].map((n) => [...document.querySelectorAll('.message')]
      .filter((m) => m.textContent.includes(`update ${n} while Ana is away`)).length));
    check(counts.every((c) => c === 1), `each missed message appears exactly once (${counts})`);

    // Phone layout and accessibility basics.
    const overflow = await A.page.evaluate(() => document.documentElement.scrollWidth);
    const wide = await A.page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > 390.5)
      .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`).slice(0, 8).join(' '));
    check(overflow <= 390, `nothing overflows a 390-px screen (scrollWidth ${overflow}) ${wide}`);
    const unlabelled = await A.page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((e) => e.offsetParent !== null && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
      .map((e) => e.id || e.name));
    check(unlabelled.length === 0, `every visible form field has a label (${unlabelled})`);
    const nameless = await A.page.evaluate(() => [...document.querySelectorAll('button')]
      .filter((b) => b.offsetParent !== null && !(b.getAttribute('aria-label') || b.textContent.trim()))
      .length);
    check(nameless === 0, 'every visible button has an accessible name');
    // Keyboard: type a message and send it with Enter.
    await B.page.focus('#message');
    await B.page.keyboard.type('sent from the keyboard');
    await B.page.keyboard.press('Enter');
    await L.page.waitForSelector('.message:has-text("sent from the keyboard")', { timeout: 5000 });
    check(true, 'a message typed and sent with the keyboard reaches the others');
    await B.page.screenshot({ path: path.join(artifacts, 'ambassador-console-phone.png'), fullPage: true });

    // The lead's view of the whole drill, for the README.
    await L.page.click('[role=tab][data-filter=all]');
    await L.page.screenshot({ path: path.join(artifacts, 'lead-console-after-drill.png'), fullPage: true });

    // A bad token is refused with a visible message.
    const bad = await browser.newContext();
    const badPage = await bad.newPage();
    await badPage.goto(`http://127.0.0.1:${server.port}/#token=not.a.token`);
    await badPage.waitForSelector('#conn[data-state=refused]', { timeout: 5000 });
    check((await badPage.textContent('#signin-error')).length > 0, 'a refused token is explained on the sign-in form');
    await badPage.keyboard.press('Tab');
    const focused = await badPage.evaluate(() => document.activeElement && document.activeElement.className);
    check(focused === 'skip', 'the first Tab on a fresh page reaches the skip link');
    await badPage.screenshot({ path: path.join(artifacts, 'sign-in-refused.png') });
    console.log('browser console test: all checks passed');
  } catch (err) {
    failed(err, server);
  } finally {
    await browser.close();
    proxy.close();
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

run();
