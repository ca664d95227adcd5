// The Muster web console: Preact components over the signals of store.js. Desktop: channels |
// alert queue | the selected alert with the channel's guidance and chat. Phone: one pane at a
// time with a bottom bar. Every text from the server is rendered as text (never as HTML).
import { render } from './vendor/preact.mjs';
import { useEffect, useLayoutEffect, useRef, useState } from './vendor/hooks.mjs';
import { batch, signal } from './vendor/signals.mjs';
import * as S from './store.js';
import { ago, clock, isHttp, kindLabel, messageText, person, reach, refusal, until } from './format.js';
import { Badge, LongText, Tabs, draft, html } from './ui.js';
import { LeadDesk } from './lead.js';

const { ui } = S;
const phone = signal(matchMedia('(max-width: 760px)').matches);
matchMedia('(max-width: 760px)').addEventListener('change', (e) => (phone.value = e.matches));
const ROW = 132; // px: the height of a queue card (style.css .card)
const OPEN = new Set(['new', 'claimed', 'responded']);
const isMine = (a) => !!S.me.value && !!a.holder && a.holder.user === S.me.value.user;
const label = (verb, a) => `${verb} alert from ${a.author || a.source}`;

// ------------------------------------------------------------------------------------------
// Urgency: sound, desktop notifications, vibration (sev1/sev2 only)

let audio = null;
function beep(sev) {
  if (!audio) return;
  const o = audio.createOscillator();
  const g = audio.createGain();
  o.frequency.value = sev === 'sev1' ? 880 : 660;
  g.gain.value = 0.08;
  o.connect(g).connect(audio.destination);
  o.start();
  o.stop(audio.currentTime + 0.25);
}
// One burst of alerts: one sound, one vibration, and at most three notifications (then one that
// counts the rest), so a flood does not bury the screen.
S.onUrgent((alerts) => {
  const urgent = alerts.filter((a) => a.severity === 'sev1' || a.severity === 'sev2');
  if (!urgent.length) return;
  const sev1 = urgent.some((a) => a.severity === 'sev1');
  if (S.prefs.value.sound) beep(sev1 ? 'sev1' : 'sev2');
  if (sev1 && navigator.vibrate) navigator.vibrate([200, 100, 200]);
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted' || !S.prefs.value.notify) return;
  const shown = urgent.length > 3 ? urgent.slice(0, 2) : urgent; // most severe first
  try {
    for (const a of shown) {
      const n = new Notification(`${a.severity.toUpperCase()} alert in ${a.channel}${a.drill ? ' (drill)' : ''}`,
        { body: `${a.author || a.source}: ${a.text.slice(0, 160)}`, tag: a.id });
      n.onclick = () => {
        window.focus();
        S.openChannel(a.channel).then(() => select(a.id));
      };
    }
    if (shown.length < urgent.length) {
      const n = new Notification(`${urgent.length - shown.length} more urgent alerts`, { body: 'Open Muster to see the queue.', tag: 'muster-burst' });
      n.onclick = () => window.focus();
    }
  } catch {
    // Some mobile browsers have the permission but no Notification constructor: sound and
    // vibration above still told the user.
  }
});

function select(id) {
  batch(() => {
    S.selected.value = id;
    if (phone.value && id) ui.view.value = 'detail';
  });
  requestAnimationFrame(() => document.getElementById('detail-title')?.focus());
}

// ------------------------------------------------------------------------------------------
// Sign in

function SignIn() {
  const c = S.conn.value;
  const [token, setToken] = useState('');
  const err = c.state === 'refused' ? refusal(c.message) : '';
  return html`<main id="main" class="signin panel" tabindex="-1">
    <h1>Muster</h1>
    <h2>Sign in</h2>
    <form onSubmit=${(e) => { e.preventDefault(); if (token.trim()) S.signIn(token.trim()); }}>
      <label for="token">Access token</label>
      <textarea id="token" rows="4" required autocomplete="off" value=${token} onInput=${(e) => setToken(e.target.value)}
        placeholder="Paste the token you were given"></textarea>
      <button type="submit">Sign in</button>
      <p id="signin-error" class="error" role="alert" data-reason=${c.state === 'refused' ? c.message : ''}>${err}</p>
    </form>
  </main>`;
}

// ------------------------------------------------------------------------------------------
// Header

const CONN = { connecting: 'Connecting…', online: 'Online', offline: 'Offline — reconnecting…', refused: 'Signed out', idle: 'Signed out' };

function Header() {
  const c = S.conn.value;
  const me = S.me.value;
  const ch = S.channels.value.get(S.current.value);
  const perm = typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
  const [, rerender] = useState(0);
  return html`<header class="top">
    <a class="skip" href="#queue-title">Skip to the alert queue</a>
    <span class="brand">Muster</span>
    <span class="where" dir="auto">${ch ? ch.title : S.current.value}</span>
    <p id="conn" class="conn" role="status" data-state=${c.state}>${CONN[c.state] || c.state}${S.outboxSize.value ? ` · ${S.outboxSize.value} waiting to send` : ''}</p>
    <span class="whoami">${me ? `${me.name} (${me.role})` : ''}</span>
    <div class="top-actions">
      ${phone.value && html`<button type="button" id="channels-button" aria-pressed=${String(ui.view.value === 'channels')}
          onClick=${() => (ui.view.value = ui.view.value === 'channels' ? 'queue' : 'channels')}>Channels</button>`}
      ${S.isLead() && html`<button type="button" id="lead-desk" aria-pressed=${String(ui.view.value === 'lead')}
          onClick=${() => (ui.view.value = ui.view.value === 'lead' ? 'queue' : 'lead')}>Lead desk</button>`}
      <button type="button" id="sound" aria-pressed=${String(S.prefs.value.sound)} onClick=${() => {
        if (!audio) audio = new AudioContext();
        S.setPref('sound', !S.prefs.value.sound);
      }}>Sound ${S.prefs.value.sound ? 'on' : 'off'}</button>
      ${perm === 'default' && html`<button type="button" id="notify" onClick=${async () => {
        await Notification.requestPermission();
        rerender((n) => n + 1);
      }}>Turn on notifications</button>`}
      ${perm === 'granted' && html`<button type="button" id="notify" aria-pressed=${String(S.prefs.value.notify)}
          onClick=${() => S.setPref('notify', !S.prefs.value.notify)}>Notifications ${S.prefs.value.notify ? 'on' : 'off'}</button>`}
      <button type="button" id="help-button" aria-haspopup="dialog" onClick=${() => (ui.help.value = true)}>Help</button>
      <button type="button" id="signout" onClick=${() => {
        sessionStorage.removeItem('muster-token');
        location.hash = '';
        location.reload();
      }}>Sign out</button>
    </div>
  </header>`;
}

// ------------------------------------------------------------------------------------------
// Guidance banner: new or revised guidance I have not acknowledged

function GuidanceBanner() {
  const ch = S.currentChan.value;
  if (!ch || !S.canWork()) return null;
  const acks = ch.myAcks.value;
  const due = [...ch.pinned.value.values()].filter((g) => acks.get(g.id) !== g.version && (g.revised_by || g.by).user !== S.me.value.user);
  if (!due.length) return null;
  return html`<section class="banner" aria-labelledby="banner-title">
    <h2 id="banner-title" class="visually-hidden">Guidance to acknowledge</h2>
    ${due.map((g) => html`<div class="banner-item" key=${g.id} data-guidance=${g.id}>
      <p><strong>${g.version > 1 ? `Revised guidance (version ${g.version})` : 'New guidance'}:</strong> <span dir="auto">${g.title}</span>
        ${g.version > 1 && g.changes && html` — what changed: <span dir="auto" class="changes">${g.changes}</span>`}</p>
      <button type="button" class="show-guidance" onClick=${() => showGuidance(g.id)}>Read it</button>
    </div>`)}
  </section>`;
}

// Sign-in ending: from 10 minutes before the token's exp, a field for a new token (refresh:
// the connection stays, drafts and all).
function ExpiryBanner() {
  const at = S.expiresAt.value;
  const [err, setErr] = useState('');
  const field = useRef(null);
  if (!at || at - S.now.value > 10 * 60000) return null;
  const submit = async (e) => {
    e.preventDefault();
    setErr('');
    try {
      await S.refreshToken(field.current.value.trim());
      S.toast('Signed in again: the session goes on.');
    } catch (ex) {
      setErr(refusal(ex.message));
    }
  };
  return html`<section class="banner expiry-banner" aria-labelledby="expiry-title">
    <form class="banner-item" onSubmit=${submit}>
      <p id="expiry-title"><strong>Your sign-in ends ${until(at, S.now.value)}</strong> (${clock(at)}). Paste a new token to stay connected.</p>
      <label class="visually-hidden" for="refresh-token">New token</label>
      <input id="refresh-token" ref=${field} autocomplete="off" placeholder="New token" required />
      <button type="submit">Stay signed in</button>
      ${err && html`<p class="error" role="alert">${err}</p>`}
    </form>
  </section>`;
}

function showGuidance(id) {
  ui.view.value = phone.value ? 'guidance' : ui.view.value === 'lead' ? 'queue' : ui.view.value;
  S.ui.panel.value = 'guidance';
  requestAnimationFrame(() => {
    const el = document.querySelector(`.guidance-item[data-guidance="${id}"]`);
    if (el) {
      el.scrollIntoView({ block: 'start' });
      el.focus();
    }
  });
}
S.ui.panel = signal('guidance'); // desktop channel panel: guidance | chat | replies | here

// ------------------------------------------------------------------------------------------
// Channels

function ChannelsNav() {
  const list = [...S.channels.value.values()];
  const cur = S.current.value;
  const [name, setName] = useState('');
  const purposes = new Map(S.systemChannels.value.map((s) => [s.channel, s.purpose]));
  const quick = [...purposes.keys()].filter((q) => purposes.get(q) !== 'leads' || S.isLead());
  return html`<nav class="pane channels" aria-labelledby="channels-title">
    <h2 id="channels-title">Channels</h2>
    <ul class="channel-list">
      ${list.map((c) => html`<li key=${c.channel}>
        <button type="button" class="channel-link" aria-current=${c.channel === cur ? 'true' : null} data-channel=${c.channel}
          onClick=${() => S.openChannel(c.channel)}>
          <span class="channel-name" dir="auto">${c.title || c.channel}</span>
          <${Badge} text=${c.severity} kind="sev" /> <${Badge} text=${c.status} kind="status" />
          ${c.drill && html`<${Badge} text="drill" kind="drill" />`}
        </button></li>`)}
      ${quick.filter((q) => !S.channels.value.has(q)).map((q) => html`<li key=${q}>
        <button type="button" class="channel-link" aria-current=${q === cur ? 'true' : null} data-channel=${q} onClick=${() => S.openChannel(q)}>
          <span class="channel-name">${purposes.get(q) === 'leads' ? `Leads (escalations)` : `Triage (unrouted alerts)`}</span></button></li>`)}
    </ul>
    <form id="open-channel" class="stack" onSubmit=${(e) => { e.preventDefault(); S.openChannel(name.trim()); setName(''); }}>
      <label for="open-name">Open a channel by name</label>
      <div class="row"><input id="open-name" required pattern="[A-Za-z0-9][A-Za-z0-9_.:@\\-]{0,127}" value=${name} onInput=${(e) => setName(e.target.value)} />
      <button type="submit">Open</button></div>
    </form>
    ${S.isLead() && html`<${CreateChannel} />`}
  </nav>`;
}

function CreateChannel() {
  const [f, setF] = useState({ channel: '', title: '', severity: 'sev3', drill: false });
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  return html`<details class="create">
    <summary>New crisis channel</summary>
    <form id="create-channel" class="stack" onSubmit=${async (e) => {
      e.preventDefault();
      try {
        const r = await S.client.call('channel.create', { channel: f.channel.trim(), title: f.title, severity: f.severity, drill: f.drill || undefined });
        S.channels.value = new Map(S.channels.value).set(r.channel.channel, r.channel);
        setF({ channel: '', title: '', severity: 'sev3', drill: false });
        S.openChannel(r.channel.channel);
      } catch (err) {
        S.toast(err.message);
      }
    }}>
      <label for="create-name">Channel name</label>
      <input id="create-name" required pattern="[A-Za-z0-9][A-Za-z0-9_.:@\\-]{0,127}" value=${f.channel} onInput=${set('channel')} />
      <label for="create-title">Title</label>
      <input id="create-title" required maxlength="256" value=${f.title} onInput=${set('title')} />
      <label for="create-severity">Severity</label>
      <select id="create-severity" value=${f.severity} onChange=${set('severity')}>
        ${['sev1', 'sev2', 'sev3', 'sev4'].map((s) => html`<option key=${s}>${s}</option>`)}
      </select>
      <label class="check"><input type="checkbox" id="create-drill" checked=${f.drill} onChange=${set('drill')} /> Drill (rehearsal)</label>
      <button type="submit">Open crisis channel</button>
    </form>
  </details>`;
}

function ChannelSettings({ c }) {
  const [f, setF] = useState(null);
  const v = f || { severity: c.severity, status: c.status, approval: c.approval?.required ? (c.approval.min_severity || 'all') : 'off' };
  const set = (k) => (e) => setF({ ...v, [k]: e.target.value });
  return html`<details class="settings">
    <summary>Channel settings</summary>
    <form id="channel-settings" class="stack" onSubmit=${async (e) => {
      e.preventDefault();
      const approval = v.approval === 'off' ? { required: false } : { required: true, min_severity: v.approval === 'all' ? null : v.approval };
      try {
        const r = await S.client.call('channel.update', { channel: c.channel, severity: v.severity, status: v.status, approval });
        S.channels.value = new Map(S.channels.value).set(r.channel.channel, r.channel);
        setF(null);
      } catch (err) {
        S.toast(err.message);
      }
    }}>
      <label for="set-severity">Severity</label>
      <select id="set-severity" value=${v.severity} onChange=${set('severity')}>${['sev1', 'sev2', 'sev3', 'sev4'].map((s) => html`<option key=${s}>${s}</option>`)}</select>
      <label for="set-status">Status</label>
      <select id="set-status" value=${v.status} onChange=${set('status')}>${['open', 'monitoring', 'resolved'].map((s) => html`<option key=${s}>${s}</option>`)}</select>
      <label for="set-approval">Replies need a lead's approval</label>
      <select id="set-approval" value=${v.approval} onChange=${set('approval')}>
        <option value="off">No</option><option value="all">Every severity</option>
        ${['sev1', 'sev2', 'sev3'].map((s) => html`<option key=${s} value=${s}>${s} and more severe</option>`)}
      </select>
      <button type="submit">Update channel</button>
    </form>
  </details>`;
}

// ------------------------------------------------------------------------------------------
// The queue

function QueuePane() {
  const ch = S.currentChan.value;
  const name = S.current.value;
  const c = S.channels.value.get(name);
  if (!ch) return html`<section class="pane queue" aria-labelledby="queue-title"><h2 id="queue-title" tabindex="-1">Alert queue</h2><p class="hint">Choose a channel.</p></section>`;
  const leads = S.systemChannels.value.find((s) => s.purpose === 'leads');
  if (leads && name === leads.channel && !c) return html`<${LeadsFeed} ch=${ch} />`;
  const counts = S.counts.value;
  const tabs = S.TABS.map(([k, t]) => [k, t, counts[k]]);
  return html`<section class="pane queue" aria-labelledby="queue-title" data-focus-home="queue-title">
    <div class="channel-head">
      <h2 id="queue-title" tabindex="-1"><span dir="auto" id="channel-title">${c ? c.title : name}</span> <span class="channel-id">${name}</span></h2>
      <span id="channel-badges" class="badges">${c && html`<${Badge} text=${c.severity} kind="sev" /> <${Badge} text=${c.status} kind="status" />`}
        ${c && c.drill && html` <${Badge} text="drill" kind="drill" />`}
        ${c && c.approval?.required && html` <${Badge} text="approval" kind="approval" label="replies need approval" />`}</span>
    </div>
    ${S.isLead() && c && html`<${ChannelSettings} c=${c} key=${c.updated_at} />`}
    <${Tabs} label="Alert queue" idPrefix="tab" tabs=${tabs} value=${ui.tab.value} onChange=${(t) => (ui.tab.value = t)} />
    ${ui.claimedHint.value && html`<p class="claimed-hint" role="status">${ui.claimedHint.value}
      <button type="button" class="link" onClick=${() => { ui.tab.value = 'mine'; ui.claimedHint.value = ''; }}>Show Mine</button></p>`}
    <div class="toolbar">
      <label for="q-search" class="visually-hidden">Search alerts by text or author</label>
      <input id="q-search" type="search" placeholder="Search text or author (/)" value=${ui.search.value} onInput=${(e) => (ui.search.value = e.target.value)} />
      <label for="q-sort">Sort</label>
      <select id="q-sort" value=${ui.sort.value} onChange=${(e) => (ui.sort.value = e.target.value)}>
        <option value="severity">Severity</option><option value="reach">Reach</option><option value="newest">Newest</option><option value="oldest">Oldest</option>
      </select>
      <label for="q-source">Source</label>
      <select id="q-source" value=${ui.source.value} onChange=${(e) => (ui.source.value = e.target.value)}>
        <option value="">All</option>${S.sources.value.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
      </select>
    </div>
    <${QueueList} ch=${ch} />
  </section>`;
}

function QueueList({ ch }) {
  const list = S.queue.value;
  const sel = S.selected.value;
  const box = useRef(null);
  const [win, setWin] = useState({ top: 0, height: 800 });
  useLayoutEffect(() => {
    const el = box.current;
    const ro = new ResizeObserver(() => setWin({ top: el.scrollTop, height: el.clientHeight || 800 }));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const onScroll = (e) => {
    const el = e.currentTarget;
    if (onScroll.raf) return;
    onScroll.raf = requestAnimationFrame(() => {
      onScroll.raf = 0;
      setWin({ top: el.scrollTop, height: el.clientHeight || 800 });
    });
  };
  const start = Math.max(0, Math.floor(win.top / ROW) - 4);
  const end = Math.min(list.length, Math.ceil((win.top + win.height) / ROW) + 4);
  const rows = list.slice(start, end);
  return html`<div class="queue-scroll" ref=${box} onScroll=${onScroll}>
    ${list.length === 0 && html`<p class="hint">${ch.loaded.value ? 'Nothing here.' : 'Loading…'}</p>`}
    <ul id="alert-list" class="alert-list" aria-label="Alerts" data-total=${list.length}
      style=${{ paddingTop: `${start * ROW}px`, paddingBottom: `${(list.length - end) * ROW}px` }}>
      ${rows.map((a, i) => html`<${AlertCard} key=${a.id} s=${ch.alert(a.id)} act=${ch.activityOf(a.id)} sel=${a.id === sel} pos=${start + i + 1} size=${list.length} />`)}
    </ul>
  </div>`;
}

function Activity({ act }) {
  const entries = [...act.value.values()].filter((e) => e.expires_at > S.now.value);
  if (!entries.length) return null;
  const byUser = new Map();
  for (const e of entries) if (!byUser.has(e.user) || e.state === 'drafting') byUser.set(e.user, e);
  const text = [...byUser.values()].map((e) => `${e.name} ${e.state === 'drafting' ? 'is drafting a reply' : 'is viewing'}`).join(' · ');
  return html`<p class="activity">${text}</p>`;
}

function Escalation({ a }) {
  if (!a.escalations || !OPEN.has(a.status)) return null;
  return html`<${Badge} text=${`escalated ${a.escalations}`} kind="esc" label=${`escalation step ${a.escalations}: ${a.escalations === 1 ? 'not claimed in time' : 'not answered in time'}`} />`;
}

function AlertCard({ s, act, sel, pos, size }) {
  const a = s.value;
  const now = S.now.value;
  const mine = isMine(a);
  const claim = async (e) => {
    e.stopPropagation();
    const r = await S.act('alert.claim', a, {}, 'Claim');
    if (r) {
      ui.claimedHint.value = `You claimed the alert from ${a.author || a.source}: it is now in Mine.`;
      if (r.drafting && r.drafting.length) S.toast(`${r.drafting.map((d) => d.name).join(', ')} was drafting a reply to it`);
    }
  };
  return html`<li class=${`card sev-line-${a.severity}${sel ? ' selected' : ''}${a.escalations && OPEN.has(a.status) ? ' escalated' : ''}`}
      data-alert=${a.id} data-status=${a.status} aria-posinset=${pos} aria-setsize=${size} onClick=${() => select(a.id)}>
    <div class="card-head">
      <${Badge} text=${a.severity} kind="sev" /> <${Badge} text=${a.status} kind="status" />
      ${a.drill && html`<${Badge} text="drill" kind="drill" />`} <${Escalation} a=${a} />
      <button type="button" class="open" aria-label=${`Open alert from ${a.author || a.source}`} onClick=${(e) => { e.stopPropagation(); select(a.id); }}>
        <span dir="auto">${a.author || '(no author)'}</span> · ${a.source}</button>
    </div>
    <p class="snippet" dir="auto">${a.text}</p>
    <p class="meta">
      <span title=${new Date(a.first_seen).toLocaleString()}>${ago(a.first_seen, now)}</span>${nextStep(a, now)}${' · '}reach <span class="reach">${reach(a.metrics?.reach)}</span>${a.count > 1 ? ` · seen ${a.count}×` : ''}
      ${a.holder && html` · <span class="holder">${mine ? 'yours' : person(a.holder)}</span>`}
      ${a.status === 'claimed' && a.claim_expires_at ? html` · <span class="expiry">claim ends ${until(a.claim_expires_at, now)}</span>` : ''}
    </p>
    <${Activity} act=${act} />
    ${a.status === 'new' && S.canWork() && html`<button type="button" class="claim" aria-label=${label('Claim', a)} onClick=${claim}>Claim</button>`}
  </li>`;
}

// The time left before the alert's next escalation step (PROTOCOL.md 15.1 next_escalation).
function nextStep(a, now) {
  const n = a.next_escalation;
  if (!n || !OPEN.has(a.status)) return '';
  const left = n.at - now;
  const why = n.reason === 'unclaimed' ? 'unless claimed' : 'unless answered';
  return html` · <span class=${`next-esc${left < 60000 ? ' soon' : ''}`} title=${`Escalation step ${n.step} at ${clock(n.at)} ${why}`}>${left <= 0 ? 'escalation due' : `escalates ${until(n.at, now)}`}</span>`;
}

// The leads channel: escalations, overdue approvals and guidance, spikes (history + live).
function LeadsFeed({ ch }) {
  const feed = ch.feed.value;
  const now = S.now.value;
  return html`<section class="pane queue" aria-labelledby="queue-title" data-focus-home="queue-title">
    <h2 id="queue-title" tabindex="-1"><span id="channel-title">Leads</span> <span class="channel-id">leads</span></h2>
    <p class="hint">Escalations and overdue work from every channel, newest first.</p>
    ${!feed.length && html`<p class="hint">${ch.loaded.value ? 'Nothing escalated yet.' : 'Loading…'}</p>`}
    <ul class="feed" aria-label="Escalations">
      ${feed.map((ev) => {
        const d = ev.data;
        const a = d.alert;
        const what = ev.event === 'alert.escalated' ? `Escalation step ${d.step}: ${d.reason === 'unclaimed' ? 'not claimed in time' : 'not answered in time'}`
          : ev.event === 'alert.approval_overdue' ? `Approval waiting ${Math.round(d.waited_ms / 60000)} min`
          : ev.event === 'guidance.overdue' ? `Guidance not acknowledged: ${d.guidance.title} (${d.pending.length} pending)`
          : `Spike in ${d.channel}: ${d.alerts_in_window} alerts, ${Math.round(d.factor * 10) / 10}× the usual rate`;
        return html`<li key=${ev.offset} class="feed-item" data-event=${ev.event} data-alert=${a ? a.id : null}>
          <p><strong>${what}</strong> <span class="meta">${ago(ev.ts, now)}</span></p>
          ${a && html`<p class="snippet" dir="auto"><${Badge} text=${a.severity} kind="sev" /> ${a.author}: ${a.text}</p>
            <p class="meta">in ${a.channel} · now ${a.status}${a.holder ? ` · held by ${person(a.holder)}` : ''}</p>
            <button type="button" onClick=${() => S.openChannel(a.channel).then(() => select(a.id))}>Open in ${a.channel}</button>`}
        </li>`;
      })}
    </ul>
  </section>`;
}

// ------------------------------------------------------------------------------------------
// The selected alert

function DetailPane() {
  const ch = S.currentChan.value;
  const id = S.selected.value;
  const s = ch && id && (!phone.value || ui.view.value === 'detail') ? ch.alert(id) : null;
  return html`<section class="pane detail" aria-labelledby="detail-title" data-focus-home="detail-title">
    ${s ? html`<${AlertDetail} key=${id} s=${s} ch=${ch} />`
      : html`<h2 id="detail-title" tabindex="-1">No alert selected</h2><p class="hint">Pick an alert in the queue (keys j and k, then Enter).</p>`}
  </section>`;
}

function useActivitySignal(a, op, active) {
  // alert.view while the alert is on screen, refreshed before the server's 15 s lapse.
  useEffect(() => {
    if (!active || !S.canWork()) return undefined;
    const send = (on) => S.client.act(op, { channel: a.channel, alert: a.id, active: on }, 'activity').catch(() => {});
    send(true);
    const t = setInterval(() => send(true), 10000);
    return () => {
      clearInterval(t);
      send(false);
    };
  }, [a.id, active]);
}

function AlertDetail({ s, ch }) {
  const a = s.value;
  const now = S.now.value;
  const mine = isMine(a);
  const lead = S.isLead();
  const c = S.channels.value.get(a.channel);
  const [confirm, setConfirm] = useState(false);
  useActivitySignal(a, 'alert.view', true);
  useEffect(() => { S.loadNotes(a); }, [a.id]);
  const back = () => { ui.view.value = 'queue'; requestAnimationFrame(() => document.querySelector(`[data-alert="${a.id}"] .open`)?.focus()); };
  const run = (op, fields, what) => S.act(op, a, fields, what);
  return html`<article class="alert-detail" data-alert-detail=${a.id} data-status=${a.status}>
    ${phone.value && html`<button type="button" class="back" onClick=${back}>← Queue</button>`}
    <h2 id="detail-title" tabindex="-1">Alert from <span dir="auto">${a.author || a.source}</span></h2>
    <p class="badges"><${Badge} text=${a.severity} kind="sev" /> <${Badge} text=${a.status} kind="status" />
      ${a.drill && html` <${Badge} text="drill" kind="drill" />`} <${Escalation} a=${a} />
      ${a.escalations > 0 && OPEN.has(a.status) && html` <span class="esc-text">${a.escalations === 1 ? 'Escalated: not claimed in time' : 'Escalated: not answered in time'}</span>`}</p>
    <${LongText} text=${a.text} />
    ${a.later_texts.length > 0 && html`<details><summary>${a.later_texts.length} later text${a.later_texts.length > 1 ? 's' : ''}</summary>
      ${a.later_texts.map((t, i) => html`<p key=${i} dir="auto" class="user-text">${t}</p>`)}</details>`}
    <p class="url">${isHttp(a.url) ? html`<a href=${a.url} target="_blank" rel="noopener noreferrer">${a.url}</a>` : html`<span>${a.url}</span>`}</p>
    <dl class="facts">
      <dt>Source</dt><dd>${a.source}</dd>
      <dt>Reach</dt><dd class="reach">${reach(a.metrics?.reach)}${a.metrics?.engagement ? ` · ${reach(a.metrics.engagement)} engagements` : ''}</dd>
      <dt>First seen</dt><dd>${ago(a.first_seen, now)} (${clock(a.first_seen)})${a.count > 1 ? ` · ${a.count} triggers` : ''}</dd>
      ${a.holder && html`<dt>Held by</dt><dd class="holder">${person(a.holder)}${a.claimed_at ? ` since ${clock(a.claimed_at)}` : ''}</dd>`}
      ${a.status === 'claimed' && a.claim_expires_at ? html`<dt>Claim ends</dt><dd>${until(a.claim_expires_at, now)} (${clock(a.claim_expires_at)}) unless answered</dd>` : ''}
      ${OPEN.has(a.status) && a.next_escalation ? html`<dt>Escalates</dt><dd>step ${a.next_escalation.step} ${until(a.next_escalation.at, now)} (${clock(a.next_escalation.at)}) ${a.next_escalation.reason === 'unclaimed' ? 'unless claimed' : 'unless answered'}</dd>` : ''}
      ${a.tags.length > 0 && html`<dt>Tags</dt><dd>${a.tags.join(', ')}</dd>`}
    </dl>
    <${Activity} act=${ch.activityOf(a.id)} />
    <div class="actions sticky-actions" role="group" aria-label="Alert actions">
      ${a.status === 'new' && S.canWork() && html`<button type="button" class="claim" aria-label=${label('Claim', a)} onClick=${async () => {
        if (await run('alert.claim', {}, 'Claim')) ui.claimedHint.value = `You claimed the alert from ${a.author || a.source}: it is now in Mine.`;
      }}>Claim</button>`}
      ${a.status === 'claimed' && (mine || lead) && html`<button type="button" class="release" aria-label=${label('Release', a)} onClick=${() => run('alert.release', {}, 'Release')}>Release</button>`}
      ${(a.status === 'claimed' || a.status === 'responded' || (a.status === 'new' && lead)) && (mine || lead) && html`<button type="button" class="resolve" aria-label=${label('Resolve', a)} onClick=${() => run('alert.resolve', {}, 'Resolve')}>Resolve</button>`}
      ${lead && OPEN.has(a.status) && !confirm && html`<button type="button" class="dismiss secondary" aria-label=${label('Dismiss', a)} onClick=${() => setConfirm(true)}>Dismiss…</button>`}
      ${confirm && html`<span class="confirm" role="group" aria-label="Confirm dismissal">Dismiss for good?
        <button type="button" class="confirm-dismiss danger" onClick=${async () => { setConfirm(false); await run('alert.dismiss', {}, 'Dismiss'); }}>Yes, dismiss</button>
        <button type="button" class="secondary" onClick=${() => setConfirm(false)}>Keep it</button></span>`}
    </div>
    ${a.status === 'claimed' && (mine || lead) && html`<${RespondForm} a=${a} ch=${ch} c=${c} mine=${mine} />`}
    ${lead && (a.status === 'new' || a.status === 'claimed') && html`<${AssignForm} a=${a} />`}
    <${Proposals} a=${a} />
    <${ReplyTrail} a=${a} />
    <${Notes} a=${a} ch=${ch} />
  </article>`;
}

function approvalNeeded(a, c) {
  if (!c || !c.approval?.required) return false;
  const min = c.approval.min_severity;
  return !min || Number(a.severity.slice(3)) <= Number(min.slice(3));
}

function RespondForm({ a, ch, c, mine }) {
  const url = draft(`${a.id}:url`);
  const text = draft(`${a.id}:text`);
  const [err, setErr] = useState('');
  const last = useRef(0);
  const templates = [...ch.templates.value.values()];
  const needs = approvalNeeded(a, c) && !S.isLead();
  const newest = a.proposals[a.proposals.length - 1];
  const drafting = () => {
    if (Date.now() - last.current < 10000) return;
    last.current = Date.now();
    S.client.act('alert.draft', { channel: a.channel, alert: a.id, active: true }, 'activity').catch(() => {});
  };
  useEffect(() => () => { if (last.current) S.client.act('alert.draft', { channel: a.channel, alert: a.id, active: false }, 'activity').catch(() => {}); }, [a.id]);
  const fields = () => {
    const f = {};
    if (url.value.trim()) f.reply_url = url.value.trim();
    if (text.value.trim()) f.reply_text = text.value;
    return f;
  };
  const respond = async (e) => {
    e.preventDefault();
    setErr('');
    try {
      const r = await S.client.act('alert.respond', { channel: a.channel, alert: a.id, ...fields() }, 'Respond');
      ch.putAlert(r.alert);
      url.value = '';
      text.value = '';
    } catch (ex) {
      setErr(ex.code === 'approval_required' ? `Approval needed before this reply can be recorded: ${ex.message}` : ex.message);
    }
  };
  const propose = async () => {
    setErr('');
    const f = {};
    if (text.value.trim()) f.text = text.value;
    if (url.value.trim()) f.url = url.value.trim();
    if (!f.text && !f.url) return setErr('Write a reply (text or URL) to propose.');
    try {
      const r = await S.client.act('alert.propose', { channel: a.channel, alert: a.id, ...f }, 'Propose');
      ch.putAlert(r.alert);
    } catch (ex) {
      setErr(ex.message);
    }
  };
  return html`<form class="respond stack" onSubmit=${respond} aria-labelledby=${`respond-${a.id}`}>
    <h3 id=${`respond-${a.id}`}>Reply</h3>
    ${needs && html`<p class="note">Replies in this channel need a lead's approval: propose yours, then record it once approved.${newest ? ` Latest proposal: ${newest.state}.` : ''}</p>`}
    ${templates.length > 0 && html`<label for=${`tpl-${a.id}`}>Start from an approved reply</label>
      <select id=${`tpl-${a.id}`} onChange=${(e) => { const t = ch.templates.value.get(e.target.value); if (t) text.value = t.text; }}>
        <option value="">—</option>${templates.map((t) => html`<option key=${t.name} value=${t.name}>${t.title || t.name}</option>`)}
      </select>`}
    <label for=${`reply-${a.id}`}>Reply URL</label>
    <input id=${`reply-${a.id}`} name="reply" type="url" inputmode="url" value=${url.value} onInput=${(e) => { url.value = e.target.value; drafting(); }} />
    <label for=${`reply-text-${a.id}`}>Reply text</label>
    <textarea id=${`reply-text-${a.id}`} name="reply_text" rows="3" dir="auto" value=${text.value} onInput=${(e) => { text.value = e.target.value; drafting(); }}></textarea>
    ${err && html`<p class="error" role="alert">${err}</p>`}
    <div class="row">
      <button type="submit" class="respond-submit" aria-label=${label('Respond to', a)}>Record response</button>
      ${mine && html`<button type="button" class="propose secondary" onClick=${propose}>Propose for approval</button>`}
    </div>
  </form>`;
}

function AssignForm({ a }) {
  const ch = S.chan(a.channel);
  const [members, setMembers] = useState([]);
  const [to, setTo] = useState('');
  useEffect(() => {
    S.client.call('channel.members', { channel: a.channel }).then((r) => setMembers(r.members)).catch(() => {});
    S.refreshPeople();
  }, [a.channel]);
  const online = new Set(members.filter((m) => m.online).map((m) => m.user));
  const inChannel = new Set(members.map((m) => m.user));
  const everyone = [...S.people.value].sort((x, y) => (online.has(y.user) - online.has(x.user)) || (inChannel.has(y.user) - inChannel.has(x.user)) || x.name.localeCompare(y.name));
  return html`<form class="assign row" onSubmit=${async (e) => {
    e.preventDefault();
    if (!to) return;
    const who = everyone.find((p) => p.user === to);
    if (await S.act('alert.assign', a, { to }, 'Assign')) S.toast(`Assigned to ${who ? who.name : to}`);
    ch.alertSet.value;
  }}>
    <label for=${`assign-${a.id}`}>Assign to</label>
    <select id=${`assign-${a.id}`} name="to" value=${to} onChange=${(e) => setTo(e.target.value)}>
      <option value="">Choose a person…</option>
      ${everyone.map((p) => html`<option key=${p.user} value=${p.user}>${p.name} (${p.role}${online.has(p.user) ? ', online here' : inChannel.has(p.user) ? ', member' : ''})</option>`)}
    </select>
    <button type="submit" aria-label=${label('Assign', a)}>Assign</button>
  </form>`;
}

function Proposals({ a }) {
  if (!a.proposals.length) return null;
  return html`<section class="proposals" aria-labelledby=${`props-${a.id}`}>
    <h3 id=${`props-${a.id}`}>Proposed replies</h3>
    <ul>${a.proposals.map((p) => html`<${Proposal} key=${p.id} a=${a} p=${p} />`)}</ul>
  </section>`;
}

function Proposal({ a, p }) {
  const [edit, setEdit] = useState(null);
  const [comment, setComment] = useState('');
  const lead = S.isLead();
  const decide = async (op, fields) => {
    if (await S.act(op, a, { proposal: p.id, ...fields }, op === 'alert.approve' ? 'Approve' : 'Reject')) setEdit(null);
  };
  return html`<li class="proposal" data-proposal=${p.id} data-state=${p.state}>
    <p><${Badge} text=${p.state} kind="prop" /> by ${person(p.by)} ${clock(p.at)}${p.template ? ` · from template ${p.template}` : ''}${p.auto ? ' · auto-approved' : ''}${p.edited ? ' · edited by the lead' : ''}</p>
    ${p.text && html`<p dir="auto" class="user-text">${p.text}</p>`}
    ${p.url && html`<p>${isHttp(p.url) ? html`<a href=${p.url} target="_blank" rel="noopener noreferrer">${p.url}</a>` : p.url}</p>`}
    ${p.decided_by && html`<p class="meta">${p.state} by ${person(p.decided_by)} ${clock(p.decided_at)}${p.comment ? `: “${p.comment}”` : ''}</p>`}
    ${lead && p.state === 'pending' && html`<div class="stack">
      ${edit !== null && html`<label for=${`edit-${p.id}`}>Approved text</label><textarea id=${`edit-${p.id}`} rows="3" dir="auto" value=${edit} onInput=${(e) => setEdit(e.target.value)}></textarea>`}
      <label for=${`comment-${p.id}`}>Comment (required to reject)</label>
      <input id=${`comment-${p.id}`} value=${comment} onInput=${(e) => setComment(e.target.value)} />
      <div class="row">
        <button type="button" class="approve" onClick=${() => decide('alert.approve', { ...(edit !== null ? { text: edit } : {}), ...(comment ? { comment } : {}) })}>Approve${edit !== null ? ' with edits' : ''}</button>
        ${edit === null && html`<button type="button" class="secondary" onClick=${() => setEdit(p.text)}>Edit before approving</button>`}
        <button type="button" class="reject danger" onClick=${() => comment.trim() ? decide('alert.reject', { comment }) : S.toast('Write a comment to reject')}>Reject</button>
      </div></div>`}
  </li>`;
}

function ReplyTrail({ a }) {
  if (!a.responded_at && !a.reply_url && !a.reply_text) return null;
  const approved = [...a.proposals].reverse().find((p) => p.state === 'approved');
  return html`<section class="trail" aria-labelledby=${`trail-${a.id}`}>
    <h3 id=${`trail-${a.id}`}>Reply trail</h3>
    <p>Answered by <strong>${person(a.responder)}</strong> at ${clock(a.responded_at)}${a.claimed_at && a.responded_at ? `, ${Math.round((a.responded_at - a.claimed_at) / 1000)} s after the claim` : ''}.</p>
    ${a.reply_url && html`<p class="reply-url">${isHttp(a.reply_url) ? html`<a href=${a.reply_url} target="_blank" rel="noopener noreferrer">${a.reply_url}</a>` : a.reply_url}</p>`}
    ${a.reply_text && html`<p dir="auto" class="user-text">${a.reply_text}</p>`}
    <p class="meta">${approved ? `Approved by ${person(approved.decided_by)}${approved.edited ? ' (edited)' : ''}${approved.auto ? ' (template)' : ''}` : 'No approval recorded'}
      ${a.guidance.length > 0 && ` · under ${a.guidance.map((g) => `${kindLabel(g.kind)} v${g.version}`).join(', ')}`}
      ${a.closed_at ? ` · ${a.status} ${clock(a.closed_at)} by ${a.closed_by}` : ''}</p>
  </section>`;
}

function Notes({ a, ch }) {
  const notes = ch.notesOf(a.id).value;
  const text = draft(`${a.id}:note`);
  if (!S.canWork()) return null;
  return html`<section class="notes" aria-labelledby=${`notes-${a.id}`}>
    <h3 id=${`notes-${a.id}`}>Internal notes${a.notes ? ` (${a.notes})` : ''}</h3>
    <ul>${(notes || []).map((n) => html`<li key=${n.id}><span class="who">${person(n.by)}</span> <time>${clock(n.at)}</time> <span dir="auto">${n.text}</span></li>`)}</ul>
    <form class="row" onSubmit=${async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      const r = await S.act('alert.note', a, { text: text.value }, 'Note');
      if (r) {
        text.value = '';
        const s = ch.notesOf(a.id);
        if (s.value && !s.value.some((x) => x.id === r.note.id)) s.value = [...s.value, r.note];
      }
    }}>
      <label for=${`note-${a.id}`} class="visually-hidden">Add an internal note</label>
      <input id=${`note-${a.id}`} placeholder="Add an internal note" value=${text.value} onInput=${(e) => (text.value = e.target.value)} />
      <button type="submit">Add note</button>
    </form>
  </section>`;
}

// ------------------------------------------------------------------------------------------
// The channel panel: guidance, chat, approved replies, who is here

function ChannelPanel() {
  const ch = S.currentChan.value;
  if (!ch) return null;
  const p = phone.value ? (ui.view.value === 'chat' ? 'chat' : 'guidance') : S.ui.panel.value;
  const tabs = [['guidance', 'Guidance'], ['chat', 'Chat'], ['replies', 'Approved replies'], ['here', `Here now (${new Set(ch.presence.value.values()).size})`]];
  return html`<section class="pane side" aria-label="Channel" data-focus-home="panel-body">
    ${!phone.value && html`<${Tabs} label="Channel" idPrefix="panel" tabs=${tabs} value=${p} onChange=${(t) => (S.ui.panel.value = t)} />`}
    <div id="panel-body" class="panel-body" tabindex="-1" role=${phone.value ? null : 'tabpanel'} aria-labelledby=${phone.value ? null : `panel-${p}`}>
      ${p === 'guidance' && html`<${GuidancePanel} ch=${ch} />`}
      ${p === 'chat' && html`<${ChatPanel} ch=${ch} />`}
      ${p === 'replies' && html`<${TemplatesPanel} ch=${ch} />`}
      ${p === 'here' && html`<${Presence} ch=${ch} />`}
    </div>
  </section>`;
}

function GuidancePanel({ ch }) {
  const pinned = [...ch.pinned.value.values()];
  const lead = S.isLead();
  useEffect(() => {
    // Receipts are not events: a lead's view asks again while it is open.
    if (!lead) return undefined;
    const t = setInterval(() => { for (const g of ch.pinned.value.values()) S.refreshStatus(ch.name, g.id); }, 3000);
    return () => clearInterval(t);
  }, [ch.name, lead]);
  return html`<div class="guidance">
    <h3>Pinned guidance</h3>
    ${!pinned.length && html`<p class="hint">No guidance yet.</p>`}
    <ul class="guidance-list">${pinned.map((g) => html`<${GuidanceItem} key=${g.id} g=${g} ch=${ch} />`)}</ul>
    ${lead && html`<${PostGuidance} ch=${ch} />`}
  </div>`;
}

function GuidanceItem({ g, ch }) {
  const body = useRef(null);
  const acked = ch.myAcks.value.get(g.id) === g.version;
  const st = S.statusOf(ch, g.id).value;
  const [revise, setRevise] = useState(false);
  useEffect(() => {
    // "read" only once the text is on screen, in a visible tab.
    const el = body.current;
    if (!el) return undefined;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && document.visibilityState === 'visible') S.receipt(ch, g, 'read');
    }, { threshold: 0.5 });
    io.observe(el);
    return () => io.disconnect();
  }, [g.id, g.version]);
  const ack = async () => {
    try {
      await S.client.act('guidance.ack', { channel: ch.name, guidance: g.id, version: g.version }, 'Acknowledge');
      ch.myAcks.value = new Map(ch.myAcks.value).set(g.id, g.version);
    } catch (err) {
      S.toast(err.code === 'invalid_state' ? 'This guidance changed while you read it: read the new version.' : err.message);
    }
  };
  const people = st ? st.people : [];
  const members = st ? st.acknowledged.length + st.pending.length : 0;
  return html`<li class="guidance-item" data-guidance=${g.id} data-version=${g.version} tabindex="-1">
    <h4><${Badge} text=${kindLabel(g.kind)} kind="kind" /> <span dir="auto">${g.title}</span> <span class="meta">v${g.version} · ${clock(g.revised_at || g.posted_at)}</span></h4>
    ${g.version > 1 && g.changes && html`<p class="changes-line">What changed: <span dir="auto">${g.changes}</span></p>`}
    <div ref=${body}><${LongText} text=${g.body} cls="body" /></div>
    ${S.canWork() && html`<button type="button" class="ack" disabled=${acked} aria-label=${`Acknowledge ${g.title}`} onClick=${ack}>${acked ? `Acknowledged v${g.version}` : 'Acknowledge'}</button>`}
    ${S.isLead() && st && html`<div class="ack-status">
      <p class="progress" data-acked=${st.acknowledged.length}>${st.acknowledged.length} of ${members} acknowledged</p>
      ${st.pending.length > 0 && html`<p class="pending">Not yet: ${st.pending.map((p) => p.name || p.user).join(', ')}</p>`}
      <table class="receipts"><caption class="visually-hidden">Who got version ${g.version}</caption>
        <thead><tr><th scope="col">Person</th><th scope="col">State</th><th scope="col">Delivered</th><th scope="col">Read</th><th scope="col">Acknowledged</th></tr></thead>
        <tbody>${people.map((p) => html`<tr key=${p.user} data-user=${p.user} data-state=${p.state}><td>${p.name}</td><td class="state">${p.state}</td>
          <td>${clock(p.delivered_at)}</td><td>${clock(p.read_at)}</td><td>${clock(p.acked_at)}</td></tr>`)}</tbody></table>
    </div>`}
    ${S.isLead() && (revise ? html`<${ReviseGuidance} g=${g} ch=${ch} done=${() => setRevise(false)} />`
      : html`<button type="button" class="secondary revise" onClick=${() => setRevise(true)}>Revise</button>`)}
  </li>`;
}

function ReviseGuidance({ g, ch, done }) {
  const [body, setBody] = useState(g.body);
  const [changes, setChanges] = useState('');
  return html`<form class="stack revise-form" onSubmit=${async (e) => {
    e.preventDefault();
    try {
      await S.client.call('guidance.revise', { channel: ch.name, guidance: g.id, body, changes });
      done();
    } catch (err) {
      S.toast(err.message);
    }
  }}>
    <label for=${`rev-body-${g.id}`}>New text</label>
    <textarea id=${`rev-body-${g.id}`} rows="4" required dir="auto" value=${body} onInput=${(e) => setBody(e.target.value)}></textarea>
    <label for=${`rev-changes-${g.id}`}>What changed</label>
    <input id=${`rev-changes-${g.id}`} required maxlength="1024" value=${changes} onInput=${(e) => setChanges(e.target.value)} />
    <div class="row"><button type="submit">Publish revision</button><button type="button" class="secondary" onClick=${done}>Cancel</button></div>
  </form>`;
}

function PostGuidance({ ch }) {
  const [f, setF] = useState({ kind: 'holding_statement', title: '', body: '', everyone: false });
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  return html`<details class="post-guidance"><summary>Broadcast guidance</summary>
    <form id="post-guidance" class="stack" onSubmit=${async (e) => {
      e.preventDefault();
      try {
        await S.client.call('guidance.post', { channel: f.everyone ? '*' : ch.name, kind: f.kind, title: f.title, body: f.body });
        setF({ ...f, title: '', body: '' });
      } catch (err) {
        S.toast(err.message);
      }
    }}>
      <label for="g-kind">Kind</label>
      <select id="g-kind" value=${f.kind} onChange=${set('kind')}>
        ${['holding_statement', 'talking_points', 'do_dont', 'update'].map((k) => html`<option key=${k} value=${k}>${kindLabel(k)}</option>`)}
      </select>
      <label for="g-title">Title</label>
      <input id="g-title" required maxlength="256" value=${f.title} onInput=${set('title')} />
      <label for="g-body">Text</label>
      <textarea id="g-body" rows="4" required dir="auto" value=${f.body} onInput=${set('body')}></textarea>
      <label class="check"><input id="g-everyone" type="checkbox" checked=${f.everyone} onChange=${set('everyone')} /> To every open crisis channel</label>
      <button type="submit">Broadcast</button>
    </form></details>`;
}

function ChatPanel({ ch }) {
  const msgs = ch.messages.value;
  const text = draft(`chat:${ch.name}`);
  const list = useRef(null);
  const stick = useRef(true);
  useLayoutEffect(() => {
    if (list.current && stick.current) list.current.scrollTop = list.current.scrollHeight;
  }, [msgs.length]);
  return html`<div class="chat">
    <h3 id="chat-title">Messages</h3>
    <ol id="messages" class="messages" role="log" aria-labelledby="chat-title" ref=${list} tabindex="0"
      onScroll=${(e) => { const el = e.currentTarget; stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40; }}>
      ${msgs.map((m) => html`<li key=${m.offset} class="message" data-offset=${m.offset}>
        <span class="who">${m.sender ? m.sender.name : ''}</span> <time>${clock(m.ts)}</time> <span class="text" dir="auto">${messageText(m.data)}</span></li>`)}
    </ol>
    ${S.canWork() && html`<form id="composer" class="row" onSubmit=${async (e) => {
      e.preventDefault();
      const t = text.value;
      if (!t.trim()) return;
      text.value = '';
      try {
        await S.client.act('publish', { channel: ch.name, data: { text: t } }, 'Message');
      } catch (err) {
        if (!text.value) text.value = t;
        S.toast(err.message);
      }
    }}>
      <label for="message" class="visually-hidden">Message</label>
      <input id="message" autocomplete="off" maxlength="4000" dir="auto" placeholder="Message the channel" value=${text.value} onInput=${(e) => (text.value = e.target.value)} />
      <button type="submit">Send</button>
    </form>`}
  </div>`;
}

function TemplatesPanel({ ch }) {
  const list = [...ch.templates.value.values()];
  const [f, setF] = useState({ name: '', text: '' });
  return html`<div class="templates">
    <h3>Approved replies</h3>
    ${!list.length && html`<p class="hint">No approved replies yet.</p>`}
    <ul class="template-list">${list.map((t) => html`<li key=${t.name} class="template" data-template=${t.name}>
      <strong>${t.title || t.name}</strong><p dir="auto" class="user-text">${t.text}</p>
      <button type="button" aria-label=${`Copy reply ${t.name}`} onClick=${async (e) => {
        try { await navigator.clipboard.writeText(t.text); e.target.textContent = 'Copied'; } catch { S.toast('Copy this reply by hand: the browser refused the clipboard.'); }
      }}>Copy</button>
      ${S.isLead() && html` <button type="button" class="secondary" aria-label=${`Delete reply ${t.name}`} onClick=${() => S.client.call('template.delete', { channel: ch.name, name: t.name }).catch((err) => S.toast(err.message))}>Delete</button>`}
    </li>`)}</ul>
    ${S.isLead() && html`<form id="put-template" class="stack" onSubmit=${async (e) => {
      e.preventDefault();
      try {
        await S.client.call('template.put', { channel: ch.name, name: f.name.trim(), text: f.text });
        setF({ name: '', text: '' });
      } catch (err) {
        S.toast(err.message);
      }
    }}>
      <h4>Add or change an approved reply</h4>
      <label for="t-name">Name</label><input id="t-name" required maxlength="64" value=${f.name} onInput=${(e) => setF({ ...f, name: e.target.value })} />
      <label for="t-text">Reply text</label><textarea id="t-text" rows="2" required dir="auto" value=${f.text} onInput=${(e) => setF({ ...f, text: e.target.value })}></textarea>
      <button type="submit">Save reply</button>
    </form>`}
  </div>`;
}

function Presence({ ch }) {
  const names = [...new Set(ch.presence.value.values())].sort();
  return html`<div><h3>Here now</h3><ul id="presence-list" class="presence-list">${names.map((n) => html`<li key=${n}>${n}</li>`)}</ul></div>`;
}

// ------------------------------------------------------------------------------------------
// Help, keyboard shortcuts, toast, live region, phone bar

const SHORTCUTS = [
  ['j / ↓', 'next alert in the queue'], ['k / ↑', 'previous alert'], ['Enter', 'open the selected alert'],
  ['c', 'claim the selected alert'], ['r', 'write the reply to the selected alert'], ['e', 'resolve the selected alert'],
  ['/', 'search the queue'], ['n / m / a', 'New, Mine, All tab'], ['g', 'guidance'], ['t', 'chat'], ['?', 'this help'], ['Esc', 'close this help'],
];

function Help() {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (ui.help.value && !d.open) d.showModal();
    if (!ui.help.value && d.open) d.close();
  });
  return html`<dialog ref=${ref} class="help" aria-labelledby="help-title" onClose=${() => (ui.help.value = false)}>
    <h2 id="help-title">Keyboard shortcuts</h2>
    <p>In the queue (not while typing in a field):</p>
    <dl class="shortcuts">${SHORTCUTS.map(([k, d]) => html`<dt key=${k}><kbd>${k}</kbd></dt><dd>${d}</dd>`)}</dl>
    <p>Sound and desktop notifications are for sev1 and sev2 alerts; both are off until you turn them on in the header.</p>
    <button type="button" onClick=${() => (ui.help.value = false)}>Close</button>
  </dialog>`;
}

document.addEventListener('keydown', (e) => {
  const t = e.target;
  if (e.ctrlKey || e.metaKey || e.altKey || !S.me.value) return;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
  if (t && t.closest && t.closest('[role=tablist]') && e.key.startsWith('Arrow')) return;
  const list = S.queue.value;
  const i = list.findIndex((a) => a.id === S.selected.value);
  const cur = i >= 0 ? list[i] : null;
  const focusCard = (id) => {
    const box = document.querySelector('.queue-scroll');
    const at = list.findIndex((a) => a.id === id);
    if (box && (at * ROW < box.scrollTop || (at + 1) * ROW > box.scrollTop + box.clientHeight)) box.scrollTop = Math.max(0, at * ROW - ROW);
    setTimeout(() => document.querySelector(`[data-alert="${id}"] .open`)?.focus(), 30);
  };
  const step = (d) => {
    if (!list.length) return;
    const j = Math.min(list.length - 1, Math.max(0, i + d));
    S.selected.value = list[j].id;
    focusCard(list[j].id);
  };
  const keys = {
    j: () => step(1), ArrowDown: () => t.closest?.('.queue') && step(1), k: () => step(-1), ArrowUp: () => t.closest?.('.queue') && step(-1),
    Enter: () => cur && t.closest?.('.card') && select(cur.id),
    c: () => cur && cur.status === 'new' && S.act('alert.claim', cur, {}, 'Claim').then((r) => r && (ui.claimedHint.value = `You claimed the alert from ${cur.author || cur.source}: it is now in Mine.`)),
    r: () => cur && (select(cur.id), setTimeout(() => document.getElementById(`reply-${cur.id}`)?.focus(), 50)),
    e: () => cur && S.act('alert.resolve', cur, {}, 'Resolve'),
    '/': () => document.getElementById('q-search')?.focus(),
    n: () => (ui.tab.value = 'new'), m: () => (ui.tab.value = 'mine'), a: () => (ui.tab.value = 'all'),
    g: () => showGuidance(''),
    t: () => { if (phone.value) ui.view.value = 'chat'; else S.ui.panel.value = 'chat'; setTimeout(() => document.getElementById('message')?.focus(), 30); },
    '?': () => (ui.help.value = true),
  };
  const fn = keys[e.key];
  if (!fn) return;
  const r = fn();
  if (r !== false && r !== undefined && e.key !== 'Enter') e.preventDefault();
  if (['j', 'k', '/', 'c', 'r', 'e', 'n', 'm', 'a', 'g', 't', '?'].includes(e.key)) e.preventDefault();
});

function PhoneBar() {
  const v = ui.view.value;
  const tab = ui.tab.value;
  const c = S.counts.value;
  const items = [
    ['queue', `Queue (${c.new})`, () => { ui.view.value = 'queue'; if (tab === 'mine') ui.tab.value = 'new'; }, v === 'queue' && tab !== 'mine'],
    ['mine', `Mine (${c.mine})`, () => { ui.view.value = 'queue'; ui.tab.value = 'mine'; }, v === 'queue' && tab === 'mine'],
    ['guidance', 'Guidance', () => (ui.view.value = 'guidance'), v === 'guidance'],
    ['chat', 'Chat', () => (ui.view.value = 'chat'), v === 'chat'],
  ];
  return html`<nav class="phone-bar" aria-label="Sections">
    ${items.map(([k, t, go, on]) => html`<button type="button" key=${k} data-go=${k} aria-current=${on ? 'page' : null} onClick=${go}>${t}</button>`)}
  </nav>`;
}

function Shell() {
  const v = ui.view.value;
  const lead = v === 'lead' && S.isLead();
  return html`<${Header} />
    <${ExpiryBanner} />
    <${GuidanceBanner} />
    <main id="main" class=${`app view-${lead ? 'lead' : v}`} data-view=${lead ? 'lead' : v}>
      <${ChannelsNav} />
      ${lead ? html`<${LeadDesk} />` : html`<${QueuePane} /><div class="right"><${DetailPane} /><${ChannelPanel} /></div>`}
    </main>
    ${phone.value && html`<${PhoneBar} />`}
    <${Help} />
    <div class="visually-hidden" aria-live="polite" id="announcer">${S.announce.value}</div>
    ${S.toastText.value && html`<p class="toast" role="status">${S.toastText.value}</p>`}`;
}

function App() {
  const me = S.me.value;
  const st = S.conn.value.state;
  if (!me || st === 'refused' || st === 'idle') {
    if (st === 'connecting' && !me) return html`<main id="main" class="signin panel"><h1>Muster</h1><p role="status">Connecting…</p></main>`;
    return html`<${SignIn} />`;
  }
  return html`<${Shell} />`;
}

render(html`<${App} />`, document.getElementById('root'));

// A token in the fragment (#token=...) signs in directly (handy for links the run command
// prints); otherwise the one kept for this tab. #channel=NAME reopens a channel after a reload.
const params = new URLSearchParams(location.hash.slice(1));
const fromHash = params.get('token');
if (fromHash) history.replaceState(null, '', location.pathname);
const saved = fromHash || sessionStorage.getItem('muster-token');
const reopen = params.get('channel');
if (saved) {
  S.signIn(saved);
  if (reopen) S.openChannel(reopen);
}
