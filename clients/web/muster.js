// Muster protocol v1 client for browsers (see protocol/PROTOCOL.md): one WebSocket, commands as
// promises, events to listeners, automatic reconnect with backoff, and recovery: every
// subscription remembers its last offset and epoch, resubscribes with `recover`, and events
// already seen (offset <= last) are dropped, so nothing is missed and nothing shown twice.
// A `ping` heartbeat notices a dead connection within a few seconds; actions taken while offline
// wait in an outbox and are sent once after the next successful `connect` (section 2).

const HEARTBEAT_MS = 2000;
const HEARTBEAT_TIMEOUT_MS = 2000;
const OUTBOX_MAX_AGE_MS = 5 * 60 * 1000;
// Commands that may be sent again when a connection broke before their reply: the server treats
// a repeat as a no-op (guidance.ack `already`, a claim by its holder `changed:false`, receipts
// move only forward, activity signals are refreshes, a publish repeats its idempotency_key).
const SAFE_TO_REPEAT = new Set(['guidance.ack', 'guidance.read', 'alert.claim', 'alert.view', 'alert.draft', 'publish']);

const error = (code, message) => Object.assign(new Error(message), { code });

export class MusterClient extends EventTarget {
  constructor({ url, token, name = '' }) {
    super();
    this.url = url;
    this.token = token;
    this.name = name;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.subs = new Map(); // channel -> {offset, epoch, joinLeave}
    this.state = 'idle'; // idle | connecting | online | offline | refused
    this.identity = null;
    this.retry = 0;
    this.closedByUser = false;
    this.retryTimer = null;
    this.heartbeat = null;
    this.outbox = []; // {op, fields, resolve, reject, label, at}
  }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...detail } }));
  }

  start() {
    this.closedByUser = false;
    this.open();
  }

  stop() {
    this.closedByUser = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    if (this.ws) this.ws.close(1000);
    this.setState('idle');
  }

  open() {
    this.setState('connecting');
    const ws = new WebSocket(this.url, 'muster.v1');
    this.ws = ws;
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onclose = (ev) => this.onClose(ws, ev);
    ws.onerror = () => {}; // onclose follows with the code
  }

  async onOpen(ws) {
    try {
      const who = await this.call('connect', { token: this.token, name: this.name });
      this.identity = who;
      this.retry = 0;
      this.setState('online', { identity: who });
      this.startHeartbeat(ws);
      // Resubscribe everything, recovering from the last position seen.
      for (const [channel, sub] of this.subs) this.resubscribe(channel, sub);
      this.flushOutbox();
    } catch (err) {
      if (err.code === 'unauthorized') {
        this.closedByUser = true;
        this.failOutbox('signed out');
        this.setState('refused', { message: err.message });
      }
    }
  }

  // Why: a dead TCP path (a sleeping laptop, a dropped Wi-Fi) may never fire onclose; a ping
  // without an answer within the timeout means the connection is gone, so say so and reconnect.
  startHeartbeat(ws) {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (this.ws !== ws || this.state !== 'online') return;
      this.call('ping', {}, HEARTBEAT_TIMEOUT_MS).catch((err) => {
        if (this.ws === ws && err.code === 'timeout') this.abandon(ws);
      });
    }, HEARTBEAT_MS);
  }

  abandon(ws) {
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close();
    } catch {
      // already closing
    }
    this.onClose(ws, { code: 1006 });
  }

  async resubscribe(channel, sub) {
    const fields = { channel, join_leave: sub.joinLeave };
    if (sub.epoch) fields.recover = { offset: sub.offset, epoch: sub.epoch };
    try {
      const r = await this.call('subscribe', fields);
      const recovered = !!r.recovered;
      if (!recovered) {
        sub.offset = r.offset;
        sub.epoch = r.epoch;
      }
      this.dispatchEvent(new CustomEvent('subscribed', { detail: { channel, recovered, result: r } }));
    } catch (err) {
      this.dispatchEvent(new CustomEvent('error', { detail: { channel, error: err } }));
    }
  }

  onClose(ws, ev) {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeat);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(error('disconnected', 'connection closed'));
    }
    this.pending.clear();
    if (ev.code === 4001) {
      if (this.state === 'refused') return; // the connect error already said why
      this.closedByUser = true;
      this.failOutbox('signed out');
      this.setState('refused', { message: ev.reason === 'token expired' ? 'token refused: token has expired' : (ev.reason || 'token refused') });
      return;
    }
    if (this.closedByUser) return;
    this.setState('offline', { code: ev.code });
    // Backoff 0.5 s, 1 s, 2 s, 4 s, then 5 s, with jitter so a crowd does not reconnect at once.
    const base = Math.min(5000, 500 * 2 ** this.retry);
    this.retry += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), base / 2 + Math.random() * (base / 2));
  }

  onFrame(text) {
    // A frame may carry several messages separated by newlines (reserved by the protocol).
    for (const line of String(text).split('\n')) {
      if (!line) continue;
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (msg.id !== undefined && (msg.result !== undefined || msg.error !== undefined)) {
        const p = this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.error) p.reject(Object.assign(new Error(msg.error.message), msg.error));
        else p.resolve(msg.result);
        continue;
      }
      if (msg.event) this.onEvent(msg);
    }
  }

  onEvent(msg) {
    // The channel list feed (channel.list with watch) is not a subscription: nothing to recover.
    if (msg.channel === '_channels') {
      this.dispatchEvent(new CustomEvent('event', { detail: msg }));
      return;
    }
    const sub = this.subs.get(msg.channel);
    if (msg.offset) {
      if (!sub) return;
      if (sub.epoch && msg.epoch && msg.epoch !== sub.epoch) {
        sub.offset = 0; // the stream restarted: follow the new epoch
        sub.epoch = msg.epoch;
      }
      if (msg.offset <= sub.offset) return; // already seen (replayed after a reconnect)
      sub.offset = msg.offset;
      sub.epoch = msg.epoch;
    }
    if (msg.event === 'unsubscribed' && sub) {
      // The server could not fill a gap: start over from the current position.
      sub.epoch = '';
      sub.offset = 0;
      this.resubscribe(msg.channel, sub);
    }
    this.dispatchEvent(new CustomEvent('event', { detail: msg }));
  }

  call(op, fields = {}, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(error('disconnected', 'not connected'));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(error('timeout', `${op} timed out`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ id, op, ...fields }));
    });
  }

  /// A user's action: sent now when online; taken while offline it waits in the outbox and is
  /// sent once after the reconnect. One that was sent but lost its reply with the connection is
  /// sent again only if repeating it is harmless; otherwise it fails as `outcome_unknown`.
  act(op, fields = {}, label = op) {
    if (op === 'publish' && !fields.idempotency_key) fields = { ...fields, idempotency_key: crypto.randomUUID() };
    if (this.state !== 'online') return this.enqueue(op, fields, label);
    return this.call(op, fields).catch((err) => {
      if (err.code !== 'disconnected' && err.code !== 'timeout') throw err;
      if (SAFE_TO_REPEAT.has(op)) return this.enqueue(op, fields, label);
      throw error('outcome_unknown', `${label}: the connection broke before the server answered; check whether it took effect`);
    });
  }

  enqueue(op, fields, label) {
    if (this.state === 'refused' || this.state === 'idle') return Promise.reject(error('disconnected', 'signed out'));
    return new Promise((resolve, reject) => {
      this.outbox.push({ op, fields, resolve, reject, label, at: Date.now() });
      this.dispatchEvent(new CustomEvent('outbox', { detail: { size: this.outbox.length } }));
    });
  }

  async flushOutbox() {
    const items = this.outbox.splice(0);
    if (!items.length) return;
    for (const item of items) {
      if (Date.now() - item.at > OUTBOX_MAX_AGE_MS) {
        item.reject(error('expired', `${item.label}: not sent, offline for too long`));
        continue;
      }
      try {
        item.resolve(await this.call(item.op, item.fields));
      } catch (err) {
        if ((err.code === 'disconnected' || err.code === 'timeout') && SAFE_TO_REPEAT.has(item.op)) this.outbox.push(item);
        else item.reject(err);
      }
    }
    this.dispatchEvent(new CustomEvent('outbox', { detail: { size: this.outbox.length } }));
  }

  failOutbox(why) {
    for (const item of this.outbox.splice(0)) item.reject(error('disconnected', `${item.label}: not sent, ${why}`));
    this.dispatchEvent(new CustomEvent('outbox', { detail: { size: 0 } }));
  }

  /// Subscribes (once per channel) and keeps the subscription across reconnects.
  async subscribe(channel) {
    if (this.subs.has(channel)) return null;
    const sub = { offset: 0, epoch: '', joinLeave: true };
    this.subs.set(channel, sub);
    let r;
    try {
      r = await this.call('subscribe', { channel, join_leave: true });
    } catch (err) {
      // Offline: the reconnect subscribes it; refused (allow-list, bad name): forget it.
      if (err.code !== 'disconnected' && err.code !== 'timeout') this.subs.delete(channel);
      throw err;
    }
    sub.offset = r.offset;
    sub.epoch = r.epoch;
    return r;
  }
}
