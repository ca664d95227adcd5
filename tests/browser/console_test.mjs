// End-to-end test of the web console in Debian's chromium, driven by playwright-core: a lead on
// a 1440x900 desktop and two ambassadors on 390-px phones, a bot pushing alerts over HTTP. A claim
// seen by the other ambassador within a second; a reply and chat draft surviving 50 live events;
// a sev1 alert in the title and as a desktop notification; guidance read and acknowledged (and
// revised: banner, read, acknowledged again) as the lead sees it; the leads channel's escalations
// after a reload; a connection cut and restored without missing or duplicating messages; a killed
// server shown "Offline" within 5 s and an acknowledgement tapped meanwhile delivered once after
// the restart; axe-core on the main screens; distinct sign-in errors. Screenshots go to the
// artifacts folder; the desktop and phone ones also to clients/screenshots/ (the README's).
//
// Usage: node console_test.mjs PATH_TO_MUSTERD ARTIFACTS_DIR
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { check, deadline, failed, killServer, launchChromium, startServer as startMusterd, stopServer, token } from './harness.mjs';

const [musterd, artifacts = 'browser-artifacts'] = process.argv.slice(2);
if (!musterd) {
  console.error('usage: node console_test.mjs PATH_TO_MUSTERD [ARTIFACTS_DIR]');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const screenshots = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'clients', 'screenshots');
// sev4 alerts escalate (step 1, unclaimed) two seconds after they arrive.
const EXTRA = ['--set', 'escalation.sev4_escalate_after_s=2'];
const startServer = (dir, opts) => startMusterd(musterd, dir, EXTRA, opts);
const CHANNEL = 'crisis.kettle';
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

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

// Desktop notifications are recorded (permission granted to the context), then shown as usual.
function recordNotifications() {
  window.__notifications = [];
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notifications.push({ title, body: options && options.body });
    }
  }
  Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
  Recorded.requestPermission = (...a) => Real.requestPermission(...a);
  window.Notification = Recorded;
}

const pages = []; // screenshots of each, should the test fail

async function signIn(browser, port, who, viewport, permissions = []) {
  const context = await browser.newContext({ viewport, permissions });
  if (permissions.includes('notifications')) await context.addInitScript(recordNotifications);
  const page = await context.newPage();
  pages.push([who.name, page]);
  page.on('pageerror', (err) => console.error(`[${who.name}] page error: ${err.message}`));
  await page.goto(`http://127.0.0.1:${port}/#token=${who.token}`);
  await page.waitForSelector('#conn[data-state=online]', { timeout: 10000 });
  return { context, page };
}

async function openOnPhone(page, channel) {
  await page.click('#channels-button');
  await page.click(`.channel-link[data-channel="${channel}"]`);
  await page.waitForSelector(`#channel-title`, { timeout: 5000 });
}

async function push(port, bot, body) {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bot}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: CHANNEL, ...body }),
  });
  return res;
}

async function timeline(port, lead) {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/channels/${CHANNEL}/timeline`, { headers: { authorization: `Bearer ${lead}` } });
  return (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function axe(page, what) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe-core: no serious or critical violation on ${what}${bad.length ? ` (${bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`).join('; ')})` : ''}`);
}

async function until(fn, ms, what) {
  const end = deadline(ms);
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run() {
  const dir = mkdtempSync(path.join(tmpdir(), 'muster-browser-'));
  let server = await startServer(dir);
  const proxy = await startProxy(server.port);
  const browser = await launchChromium(chromium);
  const lead = { name: 'Lena', token: token('lena', 'Lena', 'lead') };
  const ana = { name: 'Ana', token: token('ana', 'Ana', 'ambassador') };
  const ben = { name: 'Ben', token: token('ben', 'Ben', 'ambassador') };
  const bot = token('scout', 'Scout', 'bot');
  try {
    // The lead opens a crisis channel; the queue is the first thing on screen.
    const L = await signIn(browser, server.port, lead, DESKTOP, ['notifications']);
    await L.page.click('.create summary');
    await L.page.fill('#create-name', CHANNEL);
    await L.page.fill('#create-title', 'Kettle recall');
    await L.page.selectOption('#create-severity', 'sev2');
    await L.page.click('#create-channel button[type=submit]');
    await L.page.waitForSelector('#channel-title:has-text("Kettle recall")');
    const queueTop = await L.page.evaluate(() => document.getElementById('alert-list').getBoundingClientRect().top);
    check(queueTop < 400, `lead opened a crisis channel; the alert queue starts ${Math.round(queueTop)} px down`);

    // Ambassador Ana reaches the server through the cuttable proxy; Ben directly.
    const A = await signIn(browser, proxy.port, ana, PHONE);
    const B = await signIn(browser, server.port, ben, PHONE);
    for (const X of [A, B]) {
      await openOnPhone(X.page, CHANNEL);
      const badges = await X.page.textContent('#channel-badges');
      check(/sev2/i.test(badges) && /open/i.test(badges), 'channel shows severity and status badges');
    }
    await L.page.click('#panel-here');
    await L.page.waitForFunction(() => document.querySelectorAll('#presence-list li').length >= 3, null, { timeout: 5000 });
    check(true, 'presence lists the lead and both ambassadors');

    // A channel the lead creates now appears for the signed-in ambassadors without a reload.
    if (!(await L.page.isVisible('#create-name'))) await L.page.click('.create summary');
    await L.page.fill('#create-name', 'crisis.second');
    await L.page.fill('#create-title', 'Second front');
    await L.page.click('#create-channel button[type=submit]');
    await L.page.waitForSelector('#channel-title:has-text("Second front")');
    for (const X of [A, B])
      await X.page.waitForSelector('.channel-link[data-channel="crisis.second"]', { state: 'attached', timeout: 5000 });
    check(true, 'a channel created by the lead appears for signed-in ambassadors without a reload');
    await L.page.click(`.channel-link[data-channel="${CHANNEL}"]`);
    await L.page.waitForSelector('#channel-title:has-text("Kettle recall")');

    // A sev1 alert: both ambassadors see it live; the lead's tab title counts it and a desktop
    // notification is shown.
    const res = await push(server.port, bot, { source: 'x', url: 'https://x.com/kettlefan/status/42', author: '@kettlefan',
      text: 'My KX-200 kettle caught fire!!', severity: 'sev1', metrics: { reach: 2400000 } });
    check(res.status === 202, 'bot pushed an alert over HTTP');
    const alertId = (await res.json()).alert.id;
    const card = `[data-alert="${alertId}"]`;
    await A.page.waitForSelector(card, { timeout: 5000 });
    await B.page.waitForSelector(card, { timeout: 5000 });
    check(true, 'both ambassadors see the new alert');
    check((await A.page.textContent(`${card} .reach`)) === '2.4M', 'reach is shown as 2.4M');
    // sev1 escalates 120 s after first_seen unless claimed (PROTOCOL 16, next_escalation).
    const timer = await A.page.textContent(`${card} .next-esc`);
    check(/^escalates in ([12] min|[0-9]+ s)$/.test(timer), `the card shows the time left before escalation ("${timer}")`);
    await L.page.waitForFunction(() => /^\(1\) /.test(document.title), null, { timeout: 5000 });
    check(true, `the lead's tab title counts the new alert (${await L.page.title()})`);
    const notes = await L.page.waitForFunction(() => window.__notifications.length > 0 && window.__notifications, null, { timeout: 5000 });
    const shown = await notes.jsonValue();
    check(/SEV1/.test(shown[0].title) && /kettle caught fire/.test(shown[0].body), `a desktop notification was shown ("${shown[0].title}")`);

    // A bot-supplied script URL is refused by the server; none ever becomes a link.
    const evil = await push(server.port, bot, { source: 'x', url: 'javascript://x.com/%0aalert(1)', text: 'click me' });
    const refusal = await evil.json();
    check(evil.status === 400 && refusal.error.message === 'url must be an http or https URL', 'a javascript: URL is refused');
    check(await A.page.locator('a[href^="javascript"]').count() === 0, 'no javascript: link on the page');

    // Ben watches every alert; Ana claims; Ben sees it claimed within a second; Ana is pointed to Mine.
    await B.page.click('#tab-all');
    await A.page.click(`${card} button.claim`);
    await A.page.waitForSelector('.claimed-hint:has-text("Mine")', { timeout: 5000 });
    check(true, 'after the claim a hint points to Mine');
    await A.page.click('[data-go=mine]');
    await A.page.waitForSelector(`${card}[data-status=claimed]`, { timeout: 5000 });
    const t0 = Date.now();
    await B.page.waitForSelector(`${card}[data-status=claimed]`, { timeout: 1000 });
    check(Date.now() - t0 <= 1000, `the other ambassador saw the claim within a second (${Date.now() - t0} ms after the claimer)`);
    check((await B.page.textContent(`${card} .holder`)).includes('Ana'), 'the claim names who holds it');
    check(await B.page.locator(`${card} button.claim`).count() === 0, 'no claim button on a claimed alert');

    // The lead starts a reply and a chat message; 50 alerts arrive meanwhile; nothing is lost.
    await L.page.click('#tab-all');
    await L.page.click(`${card} .open`);
    await L.page.waitForSelector(`#reply-${alertId}`);
    await L.page.fill(`#reply-${alertId}`, 'https://x.com/brand/status/4');
    await L.page.click('#panel-chat');
    await L.page.click('#message');
    await L.page.keyboard.type('Half-typed: do not spec');
    await Promise.all(Array.from({ length: 50 }, (_, i) => push(server.port, bot, { source: i % 2 ? 'reddit' : 'mastodon',
      url: `https://social.example/p/${i}`, author: `@user${i}`, text: `burst post ${i}`, severity: 'sev3', metrics: { reach: 1000 * i } })));
    await L.page.waitForFunction(() => document.querySelector('#tab-all .count')?.textContent === '51', null, { timeout: 10000 });
    const kept = await L.page.evaluate((id) => ({ reply: document.getElementById(`reply-${id}`).value,
      chat: document.getElementById('message').value, focus: document.activeElement && document.activeElement.id }), alertId);
    check(kept.reply === 'https://x.com/brand/status/4' && kept.chat === 'Half-typed: do not spec' && kept.focus === 'message',
      `the reply and chat drafts and the focus survive 50 incoming events (${JSON.stringify(kept)})`);
    await L.page.keyboard.type('ulate');
    await L.page.keyboard.press('Enter');
    await A.page.click('[data-go=chat]');
    await A.page.waitForSelector('.message:has-text("Half-typed: do not speculate")', { timeout: 5000 });
    check(true, 'the finished chat message reaches the ambassadors');
    await L.page.fill(`#reply-${alertId}`, '');

    // Guidance: the lead broadcasts; Ana's banner leads to it; "read" then "acknowledged" in the
    // lead's view; then a revision: banner with what changed, read, acknowledged again.
    await L.page.click('#panel-guidance');
    await L.page.click('.post-guidance summary');
    await L.page.selectOption('#g-kind', 'holding_statement');
    await L.page.fill('#g-title', 'Holding statement');
    await L.page.fill('#g-body', 'We are aware of reports about the KX-200 and are investigating.');
    await L.page.click('#post-guidance button[type=submit]');
    const gid = await (await L.page.waitForSelector('.guidance-item')).getAttribute('data-guidance');
    const row = (user, state) => `.guidance-item[data-guidance="${gid}"] tr[data-user="${user}"][data-state="${state}"]`;
    await A.page.waitForSelector('.banner-item:has-text("New guidance")', { timeout: 5000 });
    await B.page.waitForSelector('.banner-item', { timeout: 5000 });
    check(true, 'new guidance shows a banner to both ambassadors');
    await A.page.click('.banner-item .show-guidance');
    await L.page.waitForSelector(row('ana', 'read'), { timeout: 8000 });
    check(true, "the lead sees Ana's read receipt once the text was shown");
    await A.page.click('.guidance-item button.ack');
    await L.page.waitForSelector(row('ana', 'acknowledged'), { timeout: 5000 });
    await L.page.waitForSelector('.guidance-item .progress:has-text("1 of 2 acknowledged")', { timeout: 5000 });
    const pending = await L.page.textContent('.guidance-item .pending');
    check(pending.includes('Ben') && !pending.includes('Ana'), 'the lead sees exactly who has not acknowledged');
    await A.page.waitForSelector('.banner', { state: 'detached', timeout: 5000 });
    await A.page.click('[data-go=queue]');
    await L.page.click('.guidance-item .revise');
    await L.page.fill(`#rev-body-${gid}`, 'We have recalled the KX-200. Details: https://brand.example/recall');
    await L.page.fill(`#rev-changes-${gid}`, 'The recall is now official');
    await L.page.click('.revise-form button[type=submit]');
    await A.page.waitForSelector('.banner-item:has-text("Revised guidance (version 2")', { timeout: 5000 });
    check((await A.page.textContent('.banner-item')).includes('The recall is now official'), 'revised guidance shows a banner with what changed');
    await L.page.waitForSelector(`.guidance-item[data-guidance="${gid}"][data-version="2"]`, { timeout: 5000 });
    await A.page.click('.banner-item .show-guidance');
    await L.page.waitForSelector(row('ana', 'read'), { timeout: 8000 });
    check(true, 'the revision reaches "read" in the lead\'s view');
    await A.page.click('.guidance-item button.ack');
    await L.page.waitForSelector(row('ana', 'acknowledged'), { timeout: 5000 });
    check(true, 'then "acknowledged"');
    // After a reload the console knows from the server what Ana acknowledged: no banner again.
    await A.page.reload();
    await A.page.waitForFunction(() => Number(document.querySelector('#tab-all .count')?.textContent) > 0, null, { timeout: 8000 });
    check(await A.page.locator('.banner-item').count() === 0, 'after a reload, guidance already acknowledged shows no banner');

    // An approved reply by the lead reaches the ambassadors' reply form; Ana responds with a URL;
    // Ben sees it live; the lead sees the reply trail.
    await L.page.click('#panel-replies');
    await L.page.fill('#t-name', 'kettle-fire');
    await L.page.fill('#t-text', 'We are sorry to hear this. Please unplug the kettle and DM us.');
    await L.page.click('#put-template button[type=submit]');
    await A.page.click('[data-go=mine]');
    await A.page.click(`${card} .open`);
    await A.page.waitForFunction((id) => [...(document.getElementById(`tpl-${id}`)?.options || [])].some((o) => o.value === 'kettle-fire'),
      alertId, { timeout: 5000 });
    check(true, 'an approved reply added by the lead reaches the ambassadors');
    await A.page.fill(`#reply-${alertId}`, 'https://x.com/brand/status/43');
    await A.page.click('.respond-submit');
    await B.page.waitForSelector(`${card}[data-status=responded]`, { timeout: 5000 });
    check(true, 'a response is seen live by the others');
    await L.page.waitForSelector('.trail .reply-url:has-text("https://x.com/brand/status/43")', { timeout: 5000 });
    check((await L.page.textContent('.trail')).includes('Ana'), 'the lead sees the reply trail: URL and who answered');
    await A.page.waitForFunction(() => document.activeElement && document.activeElement !== document.body, null, { timeout: 1000 });
    check(true, `focus stays in the page after an action (${await A.page.evaluate(() => document.activeElement.id || document.activeElement.tagName)})`);

    // Escalations: a sev4 alert left unclaimed escalates; the leads channel shows it, also after a
    // reload; dismissing the alert (confirmed) clears its escalation mark.
    const slow = await push(server.port, bot, { source: 'news', url: 'https://news.example/kettle', author: 'Daily Kettle', text: 'Kettle maker silent', severity: 'sev4' });
    const slowId = (await slow.json()).alert.id;
    await L.page.click('.channel-link[data-channel="leads"]');
    await L.page.waitForSelector(`.feed-item[data-event="alert.escalated"][data-alert="${slowId}"]`, { timeout: 10000 });
    check(true, 'the leads channel shows the escalation live');
    await L.page.reload();
    await L.page.waitForSelector('#conn[data-state=online]', { timeout: 10000 });
    await L.page.waitForSelector(`.feed-item[data-event="alert.escalated"][data-alert="${slowId}"]`, { timeout: 10000 });
    check(true, 'the leads channel shows its escalations after a reload');
    await L.page.click(`.channel-link[data-channel="${CHANNEL}"]`);
    await L.page.click('#tab-all');
    await L.page.fill('#q-search', 'Kettle maker');
    await L.page.waitForSelector(`[data-alert="${slowId}"].escalated .esc`, { timeout: 5000 });
    await L.page.click(`[data-alert="${slowId}"] .open`);
    await L.page.click('.alert-detail .dismiss');
    await L.page.click('.confirm-dismiss');
    await L.page.waitForSelector(`[data-alert="${slowId}"][data-status=dismissed]`, { timeout: 5000 });
    check(await L.page.locator(`[data-alert="${slowId}"] .esc, [data-alert="${slowId}"].escalated`).count() === 0,
      'dismissing (after a confirmation) clears the escalation mark');
    await L.page.fill('#q-search', '');
    await L.page.click(`[data-alert="${alertId}"] .open`);
    await L.page.screenshot({ path: path.join(artifacts, 'lead-console.png') });
    await axe(L.page, 'the lead\'s desktop queue');

    // Ana's connection is cut; messages sent meanwhile appear once after it comes back.
    await A.page.click('[data-go=chat]');
    proxy.cut();
    await A.page.waitForSelector('#conn[data-state=offline], #conn[data-state=connecting]', { timeout: 5000 });
    check(true, 'the console shows the lost connection');
    await L.page.click('#panel-chat');
    for (const n of [1, 2, 3]) {
      await L.page.fill('#message', `update ${n} while Ana is away`);
      await L.page.click('#composer button[type=submit]');
      await L.page.waitForSelector(`.message:has-text("update ${n} while Ana is away")`);
    }
    proxy.restore();
    await A.page.waitForSelector('#conn[data-state=online]', { timeout: 15000 });
    for (const n of [1, 2, 3])
      await A.page.waitForSelector(`.message:has-text("update ${n} while Ana is away")`, { timeout: 5000 });
    await A.page.waitForTimeout(500); // a duplicate would show up now if it were coming
    const counts = await A.page.evaluate(() => [1, 2, 3].map((n) => [...document.querySelectorAll('.message')]
      .filter((m) => m.textContent.includes(`update ${n} while Ana is away`)).length));
    check(counts.every((c) => c === 1), `each missed message appears exactly once (${counts})`);

    // Phone layout and accessibility basics.
    await A.page.click('[data-go=queue]');
    const overflow = await A.page.evaluate(() => document.documentElement.scrollWidth);
    check(overflow <= 390, `nothing overflows a 390-px screen (scrollWidth ${overflow})`);
    const small = await A.page.evaluate(() => [...document.querySelectorAll('button, a, input, select')]
      .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().right > 0 && e.getBoundingClientRect().height < 43.5)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className}`).slice(0, 5));
    check(small.length === 0, `tap targets on the phone are at least 44 px high (${small})`);
    const unlabelled = await A.page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((e) => e.offsetParent !== null && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.id));
    check(unlabelled.length === 0, `every visible form field has a label (${unlabelled})`);
    await A.page.screenshot({ path: path.join(artifacts, 'ambassador-phone.png') });
    await axe(A.page, 'the phone queue');
    await A.page.click(`[data-go=mine]`);
    await A.page.click('#tab-all');
    await A.page.click(`${card} .open`);
    await A.page.waitForSelector('.alert-detail');
    await axe(A.page, 'the phone alert view');
    await A.page.click('[data-go=guidance]');
    await axe(A.page, 'the phone guidance view');
    await L.page.click('#lead-desk');
    await L.page.waitForSelector('.stats', { timeout: 5000 });
    await axe(L.page, 'the lead desk (stats)');
    await L.page.click('#desk-report');
    await L.page.waitForSelector('.report [data-events]', { timeout: 10000 });
    check(true, 'the lead desk shows the post-crisis report');
    await L.page.click('#desk-guidance');
    await L.page.waitForSelector(`.gh-item[data-guidance="${gid}"] .versions li:nth-child(2)`, { timeout: 5000 });
    check(true, 'the guidance history lists both versions');
    await axe(L.page, 'the lead desk (guidance history)');
    await L.page.click('#lead-desk');

    // Keyboard: send a chat message with Enter; queue shortcuts move the selection.
    await B.page.click('[data-go=chat]');
    await B.page.focus('#message');
    await B.page.keyboard.type('sent from the keyboard');
    await B.page.keyboard.press('Enter');
    await L.page.waitForSelector('.message:has-text("sent from the keyboard")', { timeout: 5000 });
    check(true, 'a message typed and sent with the keyboard reaches the others');
    await L.page.click('#tab-new');
    await L.page.focus('#tab-new');
    await L.page.keyboard.press('ArrowRight');
    await L.page.waitForFunction(() => document.activeElement.id === 'tab-mine' && document.activeElement.getAttribute('aria-selected') === 'true', null, { timeout: 2000 });
    check(true, 'arrow keys move along the queue tabs');
    await L.page.keyboard.press('ArrowLeft');
    await L.page.keyboard.press('j');
    await L.page.waitForFunction(() => document.activeElement.closest('.card')?.getAttribute('aria-posinset') === '1', null, { timeout: 2000 });
    await L.page.keyboard.press('j');
    await L.page.waitForFunction(() => document.activeElement.closest('.card')?.getAttribute('aria-posinset') === '2', null, { timeout: 2000 });
    check(true, 'j moves the focus to the next alert in the queue');

    // The server dies: "Offline" within 5 s; an acknowledgement tapped meanwhile is delivered once
    // after the restart (same port, same database).
    await B.page.click('[data-go=guidance]');
    await B.page.waitForSelector('.guidance-item button.ack:not([disabled])');
    const t1 = Date.now();
    await killServer(server);
    await B.page.waitForSelector('#conn[data-state=offline]', { timeout: 5000 });
    check(Date.now() - t1 <= 5000, `a killed server shows "Offline" within 5 s (${Date.now() - t1} ms)`);
    await B.page.click('.guidance-item button.ack');
    await B.page.waitForSelector('#conn:has-text("waiting to send")', { timeout: 2000 });
    check(true, 'the acknowledgement waits in the outbox');
    server = await startServer(dir, { port: server.port });
    await B.page.waitForSelector('#conn[data-state=online]', { timeout: 15000 });
    await B.page.waitForSelector('.guidance-item button.ack[disabled]', { timeout: 5000 });
    const acks = () => timeline(server.port, lead.token).then((evs) => evs.filter((e) => e.event === 'guidance.acked' && e.data.user === 'ben' && e.data.guidance === gid).length);
    await until(async () => (await acks()) >= 1, 5000, "Ben's acknowledgement stored");
    await B.page.waitForTimeout(500); // a second send would be stored by now
    check((await acks()) === 1, 'the acknowledgement is delivered after the reconnect exactly once');

    // A sign-in about to end: the banner takes a new token (refresh), the connection stays.
    const soon = await browser.newContext();
    const soonPage = await soon.newPage();
    await soonPage.goto(`http://127.0.0.1:${server.port}/#token=${token('cara', 'Cara', 'ambassador', { exp: Math.floor(Date.now() / 1000) + 300 })}`);
    await soonPage.waitForSelector('.expiry-banner', { timeout: 5000 });
    check((await soonPage.textContent('.expiry-banner')).includes('Your sign-in ends in'), 'a sign-in ending within 10 minutes shows a banner');
    await soonPage.fill('#refresh-token', token('cara', 'Cara', 'ambassador'));
    await soonPage.click('.expiry-banner button[type=submit]');
    await soonPage.waitForSelector('.expiry-banner', { state: 'detached', timeout: 5000 });
    check(await soonPage.locator('#conn[data-state=online]').count() === 1, 'a new token is taken without reconnecting (refresh)');
    await soon.close();

    // Sign-in errors: expired, malformed and wrongly signed tokens each say what is wrong.
    const bad = await browser.newContext();
    let badPage = null;
    const messages = [];
    for (const [what, t] of [['expired', token('x', 'X', 'ambassador', { exp: 1000 })], ['malformed', 'not.a.token'],
      ['signature', token('x', 'X', 'ambassador', { secret: 'some-other-secret-0123456789' })]]) {
      if (badPage) await badPage.close();
      badPage = await bad.newPage();
      await badPage.goto(`http://127.0.0.1:${server.port}/#token=${t}`);
      await badPage.waitForSelector('#signin-error:not(:empty)', { timeout: 5000 });
      const text = await badPage.textContent('#signin-error');
      check(text.includes(what), `${what === 'expired' ? 'an expired' : what === 'signature' ? 'a wrongly signed' : 'a malformed'} token is explained: "${text}"`);
      messages.push(text);
    }
    check(new Set(messages).size === 3, 'the three refusals read differently');
    await axe(badPage, 'the sign-in page');
    await badPage.screenshot({ path: path.join(artifacts, 'sign-in-refused.png') });

    mkdirSync(screenshots, { recursive: true });
    for (const f of ['lead-console.png', 'ambassador-phone.png']) copyFileSync(path.join(artifacts, f), path.join(screenshots, f));
    console.log('browser console test: all checks passed');
  } catch (err) {
    for (const [name, page] of pages) await page.screenshot({ path: path.join(artifacts, `failed-${name}.png`) }).catch(() => {});
    failed(err, server);
  } finally {
    await browser.close();
    proxy.close();
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

run();
