// The Muster web console: sign in with a token, crisis channels, chat, the alert queue,
// guidance with acknowledgements, presence and the lead's controls. Plain DOM; every text from
// the server goes through textContent (never innerHTML).
import { MusterClient } from './muster.js';

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
};

const state = {
  client: null,
  me: null, // {user, name, role}
  channels: new Map(), // name -> channel description (crisis channels)
  current: null,
  perChannel: new Map(), // name -> {messages: [], alerts: Map, pinned: Map, presence: Map, status}
  filter: 'new',
};

const isLead = () => state.me && (state.me.role === 'lead' || state.me.role === 'admin');

function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 5000);
}

function channelState(name) {
  if (!state.perChannel.has(name))
    state.perChannel.set(name, {
      messages: [], alerts: new Map(), pinned: new Map(), presence: new Map(), status: new Map(),
      seen: new Set(), templates: new Map(),
    });
  return state.perChannel.get(name);
}

// ------------------------------------------------------------------------------------------
// Sign in and connection

function signIn(token) {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client = new MusterClient({ url, token });
  state.client = client;
  client.addEventListener('state', (ev) => onState(ev.detail));
  client.addEventListener('event', (ev) => onEvent(ev.detail));
  client.addEventListener('subscribed', (ev) => onResubscribed(ev.detail));
  client.start();
}

function onState({ state: s, identity, message }) {
  const conn = $('conn');
  conn.dataset.state = s;
  conn.textContent = {
    connecting: 'Connecting…', online: 'Connected', offline: 'Connection lost — reconnecting…',
    refused: 'Signed out: token refused', idle: 'Signed out',
  }[s] || s;
  if (s === 'online') {
    state.me = identity;
    sessionStorage.setItem('muster-token', state.client.token);
    $('whoami').textContent = `${identity.name} (${identity.role})`;
    $('signin').hidden = true;
    $('app').hidden = false;
    $('signout').hidden = false;
    for (const f of document.querySelectorAll('.lead-only')) f.hidden = !isLead();
    if (!state.current) $('channel-settings').hidden = true;
    refreshChannels();
  }
  if (s === 'refused') {
    sessionStorage.removeItem('muster-token');
    $('signin-error').textContent = message || 'The token was refused.';
    $('signin').hidden = false;
    $('app').hidden = true;
  }
}

async function refreshChannels() {
  try {
    const r = await state.client.call('channel.list');
    state.channels = new Map(r.channels.map((c) => [c.channel, c]));
    renderChannels();
  } catch (err) {
    toast(`Channels: ${err.message}`);
  }
}

function badge(text, kind) {
  return el('span', { class: `badge ${kind} ${kind}-${text}`, text });
}

function renderChannels() {
  const list = $('channel-list');
  list.replaceChildren();
  for (const [name, c] of state.channels) {
    const current = name === state.current;
    list.append(el('li', {},
      el('button', {
        type: 'button', class: 'channel-link', 'aria-current': current ? 'true' : null,
        onclick: () => openChannel(name),
      }, el('span', { class: 'channel-name', text: c.title || name }),
      badge(c.severity, 'sev'), badge(c.status, 'status'))));
  }
  if (state.current) renderChannelHead();
}

// ------------------------------------------------------------------------------------------
// A channel: subscribe, then load history, alerts, guidance and presence

async function openChannel(name) {
  state.current = name;
  $('no-channel').hidden = true;
  $('channel-view').hidden = false;
  renderChannels();
  renderAll();
  const ch = channelState(name);
  try {
    await state.client.subscribe(name);
    await loadChannel(name);
  } catch (err) {
    toast(`${name}: ${err.message}`);
  }
  $('main').focus();
}

async function loadChannel(name) {
  const ch = channelState(name);
  const c = state.client;
  const [history, alerts, guidance, presence, templates] = await Promise.all([
    c.call('history', { channel: name, limit: 100 }),
    c.call('alert.list', { channel: name }).catch(() => ({ alerts: [] })),
    c.call('guidance.list', { channel: name }).catch(() => ({ pinned: [] })),
    c.call('presence', { channel: name }),
    c.call('template.list', { channel: name }).catch(() => ({ templates: [] })),
  ]);
  ch.templates = new Map(templates.templates.map((t) => [t.name, t]));
  ch.messages = [];
  ch.seen = new Set();
  for (const p of history.publications) addMessage(ch, p);
  ch.alerts = new Map(alerts.alerts.map((a) => [a.id, a]));
  ch.pinned = new Map(guidance.pinned.map((g) => [g.kind, g]));
  ch.presence = new Map(presence.clients.map((p) => [p.client, p.name]));
  if (isLead()) for (const g of ch.pinned.values()) refreshAckStatus(name, g.id);
  if (name === state.current) renderAll();
}

function onResubscribed({ channel, recovered }) {
  // Recovered: the missed events were replayed through onEvent. Otherwise reload the views.
  if (!recovered) loadChannel(channel).catch((err) => toast(err.message));
}

function addMessage(ch, ev) {
  if (ev.event !== 'message') return false;
  if (ch.seen.has(ev.offset)) return false;
  ch.seen.add(ev.offset);
  ch.messages.push(ev);
  if (ch.messages.length > 500) ch.messages.shift();
  return true;
}

function onEvent(ev) {
  const ch = channelState(ev.channel);
  const data = ev.data || {};
  switch (ev.event) {
    case 'message':
      addMessage(ch, ev);
      break;
    case 'join':
      ch.presence.set(ev.client, ev.name);
      break;
    case 'leave':
      ch.presence.delete(ev.client);
      break;
    case 'channel.created':
    case 'channel.updated':
      state.channels.set(data.channel.channel, data.channel);
      renderChannels();
      break;
    case 'guidance.posted':
      ch.pinned.set(data.guidance.kind, data.guidance);
      if (isLead()) refreshAckStatus(ev.channel, data.guidance.id);
      break;
    case 'guidance.acked':
      if (isLead()) refreshAckStatus(ev.channel, data.guidance);
      if (state.me && data.user === state.me.user) {
        for (const g of ch.pinned.values()) if (g.id === data.guidance) g.acked = true;
      }
      break;
    case 'guidance.reminder':
      if (state.me && (data.pending || []).some((p) => p.user === state.me.user))
        toast(`Reminder: please acknowledge "${data.guidance.title}"`);
      break;
    case 'template.updated':
      ch.templates.set(data.template.name, data.template);
      break;
    case 'template.deleted':
      ch.templates.delete(data.name);
      break;
    default:
      if (ev.event.startsWith('alert.') && data.alert) {
        ch.alerts.set(data.alert.id, data.alert);
        if (ev.event === 'alert.escalated') ch.alerts.get(data.alert.id).escalatedNow = true;
      }
  }
  if (ev.channel === state.current) renderAll();
}

async function refreshAckStatus(channel, gid) {
  try {
    const r = await state.client.call('guidance.status', { channel, guidance: gid });
    channelState(channel).status.set(gid, r);
    if (channel === state.current) renderGuidance();
  } catch (err) {
    if (err.code !== 'forbidden') toast(err.message);
  }
}

// ------------------------------------------------------------------------------------------
// Rendering

function renderAll() {
  renderChannelHead();
  renderGuidance();
  renderTemplates();
  renderAlerts();
  renderMessages();
  renderPresence();
}

function renderChannelHead() {
  const name = state.current;
  if (!name) return;
  const c = state.channels.get(name);
  $('channel-title').textContent = c ? `${c.title} (${name})` : name;
  const badges = $('channel-badges');
  badges.replaceChildren();
  if (c) badges.append(badge(c.severity, 'sev'), badge(c.status, 'status'));
  const settings = $('channel-settings');
  settings.hidden = !isLead() || !c;
  if (c) {
    $('set-severity').value = c.severity;
    $('set-status').value = c.status;
  }
}

function when(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : '';
}

function renderMessages() {
  const list = $('messages');
  const ch = channelState(state.current);
  list.replaceChildren(...ch.messages.map((m) => {
    const text = typeof m.data === 'object' && m.data && 'text' in m.data ? String(m.data.text)
      : JSON.stringify(m.data);
    return el('li', { class: 'message', 'data-offset': m.offset },
      el('span', { class: 'who', text: m.sender ? m.sender.name : '' }),
      el('time', { text: when(m.ts) }),
      el('span', { class: 'text', text }));
  }));
  list.scrollTop = list.scrollHeight;
}

function renderPresence() {
  const ch = channelState(state.current);
  const names = [...new Set(ch.presence.values())].sort();
  $('presence-list').replaceChildren(...names.map((n) => el('li', { text: n })));
}

function renderGuidance() {
  const ch = channelState(state.current);
  const list = $('guidance-list');
  list.replaceChildren();
  for (const g of ch.pinned.values()) {
    const item = el('li', { class: 'guidance-item', 'data-guidance': g.id },
      el('h4', {}, badge(g.kind.replace('_', ' '), 'kind'), document.createTextNode(` ${g.title}`)),
      el('p', { class: 'body', text: g.body }));
    if (state.me && state.me.role !== 'bot') {
      item.append(el('button', {
        type: 'button', class: 'ack', disabled: g.acked ? true : null,
        'aria-label': `Acknowledge ${g.title}`,
        onclick: async (e) => {
          e.target.disabled = true;
          try {
            await state.client.call('guidance.ack', { channel: state.current, guidance: g.id });
            g.acked = true;
            e.target.textContent = 'Acknowledged';
          } catch (err) {
            e.target.disabled = false;
            toast(err.message);
          }
        },
      }, document.createTextNode(g.acked ? 'Acknowledged' : 'Acknowledge')));
    }
    const st = ch.status.get(g.id);
    if (isLead() && st) {
      const total = st.acknowledged.length + st.pending.length;
      item.append(el('p', { class: 'progress', role: 'status',
        text: `${st.acknowledged.length} of ${total} acknowledged` }));
      if (st.pending.length)
        item.append(el('p', { class: 'pending',
          text: `Not yet: ${st.pending.map((p) => p.name || p.user).join(', ')}` }));
    }
    list.append(item);
  }
  if (!ch.pinned.size) list.append(el('li', { class: 'hint', text: 'No guidance yet.' }));
}

function renderTemplates() {
  const ch = channelState(state.current);
  const list = $('template-list');
  list.replaceChildren();
  for (const t of ch.templates.values()) {
    list.append(el('li', { class: 'template', 'data-template': t.name },
      el('strong', { text: t.title || t.name }),
      el('p', { class: 'text', text: t.text }),
      el('button', { type: 'button', 'aria-label': `Copy reply ${t.name}`, onclick: async (e) => {
        try {
          await navigator.clipboard.writeText(t.text);
          e.target.textContent = 'Copied';
        } catch {
          toast('Copy this reply by hand: the browser refused the clipboard.');
        }
      } }, document.createTextNode('Copy'))));
  }
  if (!ch.templates.size) list.append(el('li', { class: 'hint', text: 'No approved replies yet.' }));
}

function alertMatches(a) {
  const mine = state.me && a.holder && a.holder.user === state.me.user;
  switch (state.filter) {
    case 'new': return a.status === 'new';
    case 'claimed': return a.status === 'claimed' || a.status === 'responded';
    case 'mine': return mine && a.status !== 'resolved' && a.status !== 'dismissed';
    default: return true;
  }
}

async function act(op, a, fields = {}) {
  try {
    await state.client.call(op, { channel: a.channel, alert: a.id, ...fields });
  } catch (err) {
    toast(err.code === 'already_claimed' && err.holder
      ? `Already claimed by ${err.holder.name || err.holder.user}` : err.message);
  }
}

function renderAlerts() {
  const ch = channelState(state.current);
  const list = $('alert-list');
  const alerts = [...ch.alerts.values()].filter(alertMatches)
    .sort((x, y) => (x.severity < y.severity ? -1 : x.severity > y.severity ? 1 : x.first_seen - y.first_seen));
  list.replaceChildren();
  for (const a of alerts) {
    const mine = state.me && a.holder && a.holder.user === state.me.user;
    const actions = el('div', { class: 'actions' });
    const label = (verb) => `${verb} alert from ${a.author || a.source}`;
    if (a.status === 'new' && state.me.role !== 'bot')
      actions.append(el('button', { type: 'button', class: 'claim', 'aria-label': label('Claim'),
        onclick: () => act('alert.claim', a) }, document.createTextNode('Claim')));
    if (a.status === 'claimed' && (mine || isLead())) {
      const form = el('form', { class: 'respond inline', onsubmit: (e) => {
        e.preventDefault();
        act('alert.respond', a, { reply_url: form.elements.reply.value });
      } },
      el('label', { for: `reply-${a.id}`, text: 'Reply URL' }),
      el('input', { id: `reply-${a.id}`, name: 'reply', type: 'url', required: true }),
      el('button', { type: 'submit', 'aria-label': label('Respond to') }, document.createTextNode('Respond')));
      actions.append(form);
      actions.append(el('button', { type: 'button', 'aria-label': label('Release'),
        onclick: () => act('alert.release', a) }, document.createTextNode('Release')));
    }
    if ((a.status === 'claimed' || a.status === 'responded') && (mine || isLead()))
      actions.append(el('button', { type: 'button', class: 'resolve', 'aria-label': label('Resolve'),
        onclick: () => act('alert.resolve', a) }, document.createTextNode('Resolve')));
    if (isLead() && a.status !== 'resolved' && a.status !== 'dismissed')
      actions.append(el('button', { type: 'button', class: 'dismiss', 'aria-label': label('Dismiss'),
        onclick: () => act('alert.dismiss', a) }, document.createTextNode('Dismiss')));
    // Assigning (or reassigning) is for alerts nobody has answered yet.
    if (isLead() && (a.status === 'new' || a.status === 'claimed')) {
      const assign = el('form', { class: 'assign inline', onsubmit: (e) => {
        e.preventDefault();
        act('alert.assign', a, { to: assign.elements.to.value });
      } },
      el('label', { for: `assign-${a.id}`, text: 'Assign to (user id)' }),
      el('input', { id: `assign-${a.id}`, name: 'to', required: true }),
      el('button', { type: 'submit', 'aria-label': label('Assign') }, document.createTextNode('Assign')));
      actions.append(assign);
    }
    const holder = a.holder ? `claimed by ${a.holder.name || a.holder.user}` : '';
    list.append(el('li', { class: `alert alert-${a.status}${a.escalations ? ' escalated' : ''}`,
      'data-alert': a.id, 'data-status': a.status },
      el('div', { class: 'alert-head' }, badge(a.severity, 'sev'), badge(a.status, 'status'),
        a.escalations ? badge('escalated', 'esc') : null,
        el('span', { class: 'source', text: `${a.source} · ${a.author}` })),
      el('p', { class: 'text', text: a.text }),
      // Only web links are clickable: a bot-supplied javascript: or data: URL stays text.
      /^https?:\/\//i.test(a.url)
        ? el('a', { href: a.url, target: '_blank', rel: 'noopener noreferrer', text: a.url })
        : el('span', { class: 'url', text: a.url }),
      el('p', { class: 'meta', text: [holder, a.count > 1 ? `seen ${a.count}×` : '',
        `reach ${a.metrics ? a.metrics.reach : 0}`].filter(Boolean).join(' · ') }),
      actions));
  }
  if (!alerts.length) list.append(el('li', { class: 'hint', text: 'Nothing here.' }));
}

// ------------------------------------------------------------------------------------------
// Forms

function wire() {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    $('signin-error').textContent = '';
    signIn($('token').value.trim());
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem('muster-token');
    location.hash = '';
    location.reload();
  });
  $('open-channel').addEventListener('submit', (e) => {
    e.preventDefault();
    openChannel($('open-name').value.trim());
  });
  $('create-channel').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    try {
      const r = await state.client.call('channel.create', {
        channel: f.channel.value.trim(), title: f.title.value, severity: f.severity.value,
      });
      state.channels.set(r.channel.channel, r.channel);
      e.target.reset();
      openChannel(r.channel.channel);
    } catch (err) {
      toast(err.message);
    }
  });
  $('channel-settings').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await state.client.call('channel.update', {
        channel: state.current, severity: $('set-severity').value, status: $('set-status').value,
      });
      state.channels.set(r.channel.channel, r.channel);
      renderChannels();
    } catch (err) {
      toast(err.message);
    }
  });
  $('post-guidance').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    try {
      await state.client.call('guidance.post', {
        channel: f.everyone.checked ? '*' : state.current, kind: f.kind.value,
        title: f.title.value, body: f.body.value,
      });
      e.target.reset();
    } catch (err) {
      toast(err.message);
    }
  });
  $('put-template').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    try {
      await state.client.call('template.put', {
        channel: state.current, name: f.name.value.trim(), text: f.text.value,
      });
      e.target.reset();
    } catch (err) {
      toast(err.message);
    }
  });
  $('composer').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('message');
    const text = input.value;
    if (!text.trim()) return;
    try {
      await state.client.call('publish', { channel: state.current, data: { text } });
      input.value = '';
    } catch (err) {
      toast(err.message);
    }
  });
  for (const tab of document.querySelectorAll('[role=tab]')) {
    tab.addEventListener('click', () => {
      state.filter = tab.dataset.filter;
      for (const t of document.querySelectorAll('[role=tab]'))
        t.setAttribute('aria-selected', String(t === tab));
      renderAlerts();
    });
  }
}

wire();
// A token in the fragment (#token=...) signs in directly (handy for links the run command
// prints); otherwise the one kept for this tab.
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) history.replaceState(null, '', location.pathname);
const saved = fromHash || sessionStorage.getItem('muster-token');
if (saved) signIn(saved);
