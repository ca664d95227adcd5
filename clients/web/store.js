// The console's state as signals, and what each server event changes in it. One signal per
// alert, so a live event re-renders only that alert's card; lists are computed from them.
import { batch, computed, effect, signal } from './vendor/signals.mjs';
import { MusterClient } from './muster.js';
import { sevRank } from './format.js';

export const conn = signal({ state: 'idle', message: '' });
export const me = signal(null); // {user, name, role}
export const outboxSize = signal(0);
export const channels = signal(new Map()); // name -> channel description (crisis channels)
// The server's own channels ({channel, purpose: "triage" | "leads"}) the allow-list allows.
export const systemChannels = signal([]);
export const current = signal(''); // the open channel
export const selected = signal(''); // the selected alert's id
export const now = signal(Date.now());
export const toastText = signal('');
export const announce = signal(''); // the polite live region: only what is new
export const people = signal([]); // the directory (leads)
export const prefs = signal(loadPrefs());
export const ui = {
  tab: signal('new'), // new | mine | claimed | done | all
  sort: signal('severity'), // severity | reach | newest | oldest
  source: signal(''),
  search: signal(''),
  view: signal('queue'), // phone: queue | guidance | chat | detail; both: lead (the lead desk)
  help: signal(false),
  claimedHint: signal(''),
};

export let client = null;
export const isLead = () => !!me.value && (me.value.role === 'lead' || me.value.role === 'admin');
export const canWork = () => !!me.value && me.value.role !== 'bot';

setInterval(() => (now.value = Date.now()), 10000);

function loadPrefs() {
  try {
    return { sound: false, notify: true, ...JSON.parse(localStorage.getItem('muster-prefs') || '{}') };
  } catch {
    return { sound: false, notify: true };
  }
}
export function setPref(key, value) {
  prefs.value = { ...prefs.value, [key]: value };
  localStorage.setItem('muster-prefs', JSON.stringify(prefs.value));
}

/// When the token this tab signed in with expires (ms), from its `exp` claim; 0 when it never does.
export function tokenExpiry(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part));
    return typeof claims.exp === 'number' ? claims.exp * 1000 : 0;
  } catch {
    return 0;
  }
}
export const expiresAt = signal(0);

/// Replaces the connection's token before it runs out (PROTOCOL 4.8); reconnects use it too.
export async function refreshToken(token) {
  const r = await client.call('refresh', { token });
  client.token = token;
  sessionStorage.setItem('muster-token', token);
  expiresAt.value = r.expires_at ? r.expires_at * 1000 : 0;
  if (me.value) me.value = { ...me.value, name: r.name, role: r.role };
  return r;
}

export function toast(text) {
  toastText.value = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (toastText.value = ''), 8000);
}

// ------------------------------------------------------------------------------------------
// Per channel

export class Chan {
  constructor(name) {
    this.name = name;
    this.loaded = signal(false);
    this.alerts = new Map(); // id -> signal(alert)
    this.alertSet = signal(0); // bumped when alerts are added or replaced wholesale
    this.messages = signal([]);
    this.seen = new Set(); // offsets of messages shown
    this.pinned = signal(new Map()); // kind -> guidance
    this.gstatus = new Map(); // guidance id -> signal(guidance.status result)
    this.versions = new Map(); // guidance id -> Map(version -> {title, body})
    this.presence = signal(new Map()); // client -> name
    this.templates = signal(new Map());
    this.activity = new Map(); // alert id -> signal(Map(key -> entry))
    this.notes = new Map(); // alert id -> signal([note])
    this.feed = signal([]); // escalations, overdue approvals and guidance, spikes (newest first)
    this.myAcks = signal(new Map()); // guidance id -> version I acknowledged
    this.approvals = signal(null); // approval.list result (leads)
    this.receipts = new Set(); // `${gid}:${version}:${state}` sent
  }

  alert(id) {
    return this.alerts.get(id);
  }

  activityOf(id) {
    let s = this.activity.get(id);
    if (!s) this.activity.set(id, (s = signal(new Map())));
    return s;
  }

  notesOf(id) {
    let s = this.notes.get(id);
    if (!s) this.notes.set(id, (s = signal(null)));
    return s;
  }

  putAlert(a) {
    if (!flushing) flushEvents(); // what arrived before this reply is older: apply it first
    const s = this.alerts.get(a.id);
    if (s) {
      s.value = a;
    } else {
      this.alerts.set(a.id, signal(a));
      this.alertSet.value++;
    }
  }
}

const chans = new Map();
const chanCount = signal(0);
export function chan(name) {
  if (!chans.has(name)) {
    chans.set(name, new Chan(name));
    chanCount.value++;
  }
  return chans.get(name);
}
export const currentChan = computed(() => (current.value ? chan(current.value) : null));

// ------------------------------------------------------------------------------------------
// The queue: tabs, counts, filters, sort

const OPEN = new Set(['new', 'claimed', 'responded']);
const mine = (a) => !!me.value && !!a.holder && a.holder.user === me.value.user;
const inTab = {
  new: (a) => a.status === 'new',
  mine: (a) => mine(a) && OPEN.has(a.status),
  claimed: (a) => a.status === 'claimed' || a.status === 'responded',
  done: (a) => a.status === 'resolved' || a.status === 'dismissed',
  all: () => true,
};
export const TABS = [['new', 'New'], ['mine', 'Mine'], ['claimed', 'Claimed'], ['done', 'Done'], ['all', 'All']];

function allAlerts(ch) {
  ch.alertSet.value;
  const list = [];
  for (const s of ch.alerts.values()) list.push(s.value);
  return list;
}

export const counts = computed(() => {
  const ch = currentChan.value;
  const c = { new: 0, mine: 0, claimed: 0, done: 0, all: 0 };
  if (!ch) return c;
  for (const a of allAlerts(ch)) for (const k in inTab) if (inTab[k](a)) c[k]++;
  return c;
});

export const sources = computed(() => {
  const ch = currentChan.value;
  return ch ? [...new Set(allAlerts(ch).map((a) => a.source))].sort() : [];
});

const sorters = {
  severity: (x, y) => sevRank(x.severity) - sevRank(y.severity) || y.escalations - x.escalations || x.first_seen - y.first_seen,
  reach: (x, y) => (y.metrics?.reach || 0) - (x.metrics?.reach || 0) || x.first_seen - y.first_seen,
  newest: (x, y) => y.first_seen - x.first_seen,
  oldest: (x, y) => x.first_seen - y.first_seen,
};

export const queue = computed(() => {
  const ch = currentChan.value;
  if (!ch) return [];
  const tab = inTab[ui.tab.value] || inTab.all;
  const source = ui.source.value;
  const q = ui.search.value.trim().toLowerCase();
  const list = allAlerts(ch).filter((a) => tab(a) && (!source || a.source === source) &&
    (!q || a.text.toLowerCase().includes(q) || a.author.toLowerCase().includes(q) ||
      a.later_texts.some((t) => t.toLowerCase().includes(q))));
  return list.sort(sorters[ui.sort.value] || sorters.severity);
});

// New alerts over every open channel: the tab title's count.
const newCount = computed(() => {
  let n = 0;
  chanCount.value;
  for (const ch of chans.values()) {
    ch.alertSet.value;
    for (const s of ch.alerts.values()) if (s.value.status === 'new') n++;
  }
  return n;
});
effect(() => {
  const n = newCount.value;
  const c = current.value;
  const title = channels.value.get(c)?.title || c;
  document.title = `${n ? `(${n}) ` : ''}${title ? `${title} · ` : ''}Muster`;
});

// ------------------------------------------------------------------------------------------
// Sign in, channels, loading

export function signIn(token) {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  if (client) client.stop();
  client = new MusterClient({ url, token });
  client.addEventListener('state', (ev) => onState(ev.detail));
  client.addEventListener('event', (ev) => enqueue(ev.detail));
  client.addEventListener('subscribed', (ev) => {
    if (!ev.detail.recovered) loadChannel(ev.detail.channel).catch((err) => toast(err.message));
  });
  client.addEventListener('outbox', (ev) => (outboxSize.value = ev.detail.size));
  client.start();
}

function onState({ state, identity, message }) {
  conn.value = { state, message: message || '' };
  if (state === 'online') {
    me.value = identity;
    sessionStorage.setItem('muster-token', client.token);
    expiresAt.value = tokenExpiry(client.token);
    refreshChannels();
    if (isLead()) refreshPeople();
  }
  if (state === 'refused') sessionStorage.removeItem('muster-token');
}

/// The one place the channel list is read: on connect (watching, so that the server's channel
/// list feed then brings every creation and change, PROTOCOL.md 14.4), and on channel events.
export async function refreshChannels() {
  try {
    const r = await client.call('channel.list', { watch: true });
    flushEvents(); // feed events older than this list first
    channels.value = new Map(r.channels.map((c) => [c.channel, c]));
    systemChannels.value = r.system || [];
  } catch (err) {
    toast(`Channels: ${err.message}`);
  }
}

export async function refreshPeople() {
  try {
    const r = await client.call('people.list');
    people.value = r.people.filter((p) => p.role !== 'bot');
  } catch (err) {
    if (err.code !== 'forbidden') toast(`People: ${err.message}`);
  }
}

export async function openChannel(name) {
  if (!name) return;
  batch(() => {
    current.value = name;
    selected.value = '';
    if (ui.view.value === 'detail' || ui.view.value === 'channels') ui.view.value = 'queue';
  });
  location.hash = `channel=${encodeURIComponent(name)}`;
  try {
    const r = await client.subscribe(name);
    if (r) await loadChannel(name);
  } catch (err) {
    toast(err.code === 'disconnected' ? `${name}: opens when the connection is back` : `${name}: ${err.message}`);
  }
}

const FEED_EVENTS = new Set(['alert.escalated', 'alert.approval_overdue', 'guidance.overdue', 'channel.spike']);

// Each part of a channel's snapshot is applied when its reply arrives, after the events that
// came before that reply (they are older) and before those that come after it (newer): the
// WebSocket keeps the server's order, and a reply's promise settles before the next message.
function part(call, apply) {
  return call.then((r) => {
    flushEvents();
    batch(() => apply(r));
    return r;
  });
}

export async function loadChannel(name) {
  const ch = chan(name);
  const c = client;
  const [, , guidance] = await Promise.all([
    part(c.call('history', { channel: name, limit: 1000 }), (history) => {
      ch.seen = new Set();
      const messages = [];
      const feed = [];
      for (const p of history.publications) {
        if (p.event === 'message' && !ch.seen.has(p.offset)) {
          ch.seen.add(p.offset);
          messages.push(p);
        } else if (FEED_EVENTS.has(p.event)) {
          feed.unshift(p);
        } else if (p.event === 'guidance.posted' || p.event === 'guidance.revised') {
          rememberVersion(ch, p.data.guidance);
        }
      }
      ch.messages.value = messages.slice(-500);
      ch.feed.value = feed.slice(0, 500);
    }),
    part(c.call('alert.list', { channel: name, limit: 10000 }).catch(() => ({ alerts: [], activity: {} })), (alerts) => {
      const fresh = new Map();
      for (const a of alerts.alerts) {
        const s = ch.alerts.get(a.id);
        if (s) s.value = a;
        fresh.set(a.id, s || signal(a));
      }
      ch.alerts = fresh;
      ch.alertSet.value++;
      for (const [id, list] of Object.entries(alerts.activity || {})) {
        ch.activityOf(id).value = new Map(list.map((e) => [e.user, e]));
      }
    }),
    part(c.call('guidance.list', { channel: name }).catch(() => ({ pinned: [], mine: [] })), (g) => {
      // My own acks and receipts, as the server keeps them (PROTOCOL 17.4): not the history
      // page, which a busy channel outgrows.
      const acks = new Map();
      for (const m of g.mine || []) {
        if (m.acked_version) acks.set(m.guidance, m.acked_version);
        if (m.receipt_version && m.delivered_at) ch.receipts.add(`${m.guidance}:${m.receipt_version}:delivered`);
        if (m.receipt_version && m.read_at) ch.receipts.add(`${m.guidance}:${m.receipt_version}:read`);
      }
      ch.myAcks.value = acks;
      ch.pinned.value = new Map(g.pinned.map((x) => [x.kind, x]));
      for (const x of g.pinned) rememberVersion(ch, x);
    }),
    part(c.call('presence', { channel: name }), (presence) => {
      ch.presence.value = new Map(presence.clients.map((p) => [p.client, p.name]));
    }),
    part(c.call('template.list', { channel: name }).catch(() => ({ templates: [] })), (templates) => {
      ch.templates.value = new Map(templates.templates.map((t) => [t.name, t]));
    }),
  ]);
  ch.loaded.value = true;
  for (const g of guidance.pinned) receipt(ch, g, 'delivered');
  if (isLead()) {
    for (const g of guidance.pinned) refreshStatus(name, g.id);
    refreshApprovals(name);
  }
}

function rememberVersion(ch, g) {
  if (!ch.versions.has(g.id)) ch.versions.set(g.id, new Map());
  ch.versions.get(g.id).set(g.version, { title: g.title, body: g.body, at: g.revised_at || g.posted_at, by: g.revised_by || g.by, changes: g.changes });
}

export async function refreshStatus(channel, gid) {
  try {
    const r = await client.call('guidance.status', { channel, guidance: gid });
    const ch = chan(channel);
    if (!ch.gstatus.has(gid)) ch.gstatus.set(gid, signal(r));
    else ch.gstatus.get(gid).value = r;
  } catch (err) {
    if (err.code !== 'forbidden' && err.code !== 'disconnected') toast(err.message);
  }
}
export const statusOf = (ch, gid) => {
  if (!ch.gstatus.has(gid)) ch.gstatus.set(gid, signal(null));
  return ch.gstatus.get(gid);
};

export async function refreshApprovals(channel) {
  try {
    const r = await client.call('approval.list', { channel });
    chan(channel).approvals.value = r.proposals;
  } catch (err) {
    if (err.code !== 'forbidden' && err.code !== 'disconnected') toast(err.message);
  }
}

/// A delivered or read receipt for the current version, once per version and state.
export function receipt(ch, g, state) {
  if (!canWork()) return;
  const key = `${g.id}:${g.version}:${state}`;
  if (ch.receipts.has(key)) return;
  ch.receipts.add(key);
  client.act('guidance.read', { channel: ch.name, guidance: g.id, version: g.version, state }, 'receipt')
    .catch(() => ch.receipts.delete(key));
}

// ------------------------------------------------------------------------------------------
// Live events

const notifyHooks = [];
/// `fn(alerts)`: the new or more severe alerts of one batch of events, oldest first.
export const onUrgent = (fn) => notifyHooks.push(fn);

// Live events are applied once per frame in one batch, so a burst of 1,000 costs a few renders,
// not 1,000. A hidden tab gets no frames: the timer applies them there (the title count).
const pending = [];
let flushing = false;
let urgent = [];
let scheduled = false;
function enqueue(ev) {
  pending.push(ev);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(flushEvents);
  setTimeout(flushEvents, 100);
}
export function flushEvents() {
  scheduled = false;
  if (!pending.length || flushing) return;
  const events = pending.splice(0);
  flushing = true;
  try {
    batch(() => {
      for (const ev of events) {
        try {
          onEvent(ev);
        } catch (err) {
          console.error('event', ev.event, err); // one bad event must not cost the others
        }
      }
    });
  } finally {
    flushing = false;
  }
  // One entry per alert (its newest state), most severe first.
  const news = [...new Map(urgent.map((a) => [a.id, a])).values()].sort((x, y) => sevRank(x.severity) - sevRank(y.severity));
  urgent = [];
  if (news.length) {
    announce.value = news.length === 1
      ? `New ${news[0].severity} alert from ${news[0].author || news[0].source}: ${news[0].text.slice(0, 80)}`
      : `${news.length} new alerts`;
    for (const fn of notifyHooks) {
      try {
        fn(news);
      } catch (err) {
        console.error('notification', err); // e.g. Android Chrome: no Notification constructor
      }
    }
  }
}

// A signal holding a Map gets a new Map without `key` (so whoever reads it re-renders).
function drop(sig, key) {
  const m = new Map(sig.value);
  m.delete(key);
  sig.value = m;
}

function onEvent(ev) {
  const data = ev.data || {};
  // The channel list feed: not a channel of its own.
  if (ev.channel === '_channels') {
    if (data.channel && data.channel.channel)
      channels.value = new Map(channels.value).set(data.channel.channel, data.channel);
    return;
  }
  const ch = chan(ev.channel);
  const live = ch.loaded.value;
  switch (ev.event) {
    case 'message':
      if (ch.seen.has(ev.offset)) break;
      ch.seen.add(ev.offset);
      ch.messages.value = [...ch.messages.value.slice(-499), ev];
      break;
    case 'join':
      ch.presence.value = new Map(ch.presence.value).set(ev.client, ev.name);
      break;
    case 'leave':
      drop(ch.presence, ev.client);
      break;
    case 'channel.created':
    case 'channel.updated':
      channels.value = new Map(channels.value).set(data.channel.channel, data.channel);
      refreshChannels();
      break;
    case 'guidance.posted':
    case 'guidance.revised': {
      const g = data.guidance;
      rememberVersion(ch, g);
      ch.pinned.value = new Map(ch.pinned.value).set(g.kind, g);
      receipt(ch, g, 'delivered');
      if (isLead()) refreshStatus(ev.channel, g.id);
      if (live && !(me.value && g.by.user === me.value.user && ev.event === 'guidance.posted'))
        announce.value = `${ev.event === 'guidance.revised' ? 'Revised' : 'New'} guidance: ${g.title}`;
      break;
    }
    case 'guidance.acked':
      if (me.value && data.user === me.value.user) ch.myAcks.value = new Map(ch.myAcks.value).set(data.guidance, data.version);
      if (isLead()) refreshStatus(ev.channel, data.guidance);
      break;
    case 'guidance.reminder':
      if (me.value && (data.pending || []).some((p) => p.user === me.value.user))
        toast(`Reminder: please read and acknowledge "${data.guidance.title}"`);
      break;
    case 'template.updated':
      ch.templates.value = new Map(ch.templates.value).set(data.template.name, data.template);
      break;
    case 'template.deleted':
      drop(ch.templates, data.name);
      break;
    case 'alert.activity': {
      const s = ch.activityOf(data.alert);
      const m = new Map(s.value);
      if (me.value && data.user === me.value.user) break;
      if (data.state === 'none') m.delete(data.client);
      else m.set(data.client, data);
      s.value = m;
      break;
    }
    default:
      if (ev.event.startsWith('alert.') && data.alert) onAlertEvent(ch, ev, data, live);
  }
  if (FEED_EVENTS.has(ev.event)) ch.feed.value = [ev, ...ch.feed.value.slice(0, 499)];
}

function onAlertEvent(ch, ev, data, live) {
  const a = data.alert;
  // Copies in the leads channel (escalations, overdue approvals) live in their home channel.
  if (a.channel === ch.name || a.channels.includes(ch.name)) {
    const before = ch.alert(a.id)?.value;
    ch.putAlert(a);
    if (ev.event === 'alert.noted' && data.note) {
      const n = ch.notesOf(a.id);
      if (n.value && !n.value.some((x) => x.id === data.note.id)) n.value = [...n.value, data.note];
    }
    if (live && (ev.event === 'alert.new' || data.severity_raised)) urgent.push(a);
    if (isLead() && /^alert\.(proposed|approved|rejected|approval_overdue)$/.test(ev.event)) refreshApprovals(ch.name);
    if (before && mine(a) && !mine(before) && ev.event === 'alert.assigned') toast(`${a.author || a.source}: assigned to you — it is in Mine`);
  }
}

// ------------------------------------------------------------------------------------------
// Actions

export async function act(op, a, fields = {}, label = op) {
  try {
    const r = await client.act(op, { channel: a.channel, alert: a.id, ...fields }, label);
    if (r && r.alert) chan(a.channel).putAlert(r.alert);
    return r;
  } catch (err) {
    if (err.code === 'already_claimed' && err.holder) toast(`Already claimed by ${err.holder.name || err.holder.user}`);
    else if (err.code === 'approval_required') toast(`Approval needed: ${err.message}`);
    else toast(err.message);
    return null;
  }
}

export async function loadNotes(a) {
  try {
    const r = await client.call('alert.get', { channel: a.channel, alert: a.id });
    const ch = chan(a.channel);
    ch.putAlert(r.alert);
    ch.notesOf(a.id).value = r.notes;
    ch.activityOf(a.id).value = new Map(r.activity.filter((e) => !me.value || e.user !== me.value.user).map((e) => [e.user, e]));
  } catch (err) {
    if (err.code !== 'disconnected') toast(err.message);
  }
}
