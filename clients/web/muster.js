// Muster protocol v1 client for browsers (see protocol/PROTOCOL.md): one WebSocket, commands as
// promises, events to listeners, automatic reconnect with backoff, and recovery: every
// subscription remembers its last offset and epoch, resubscribes with `recover`, and events
// already seen (offset <= last) are dropped, so nothing is missed and nothing shown twice.

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
    if (this.ws) this.ws.close(1000);
    this.setState('idle');
  }

  open() {
    this.setState('connecting');
    const ws = new WebSocket(this.url, 'muster.v1');
    this.ws = ws;
    ws.onopen = () => this.onOpen();
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onclose = (ev) => this.onClose(ev);
    ws.onerror = () => {}; // onclose follows with the code
  }

  async onOpen() {
    try {
      const who = await this.call('connect', { token: this.token, name: this.name });
      this.identity = who;
      this.retry = 0;
      this.setState('online', { identity: who });
      // Resubscribe everything, recovering from the last position seen.
      for (const [channel, sub] of this.subs) this.resubscribe(channel, sub);
    } catch (err) {
      if (err.code === 'unauthorized') {
        this.closedByUser = true;
        this.setState('refused', { message: err.message });
      }
    }
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

  onClose(ev) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(Object.assign(new Error('connection closed'), { code: 'disconnected' }));
    }
    this.pending.clear();
    if (ev.code === 4001) {
      this.closedByUser = true;
      this.setState('refused', { message: ev.reason || 'token refused' });
      return;
    }
    if (this.closedByUser) return;
    this.setState('offline', { code: ev.code });
    // Backoff 0.5 s, 1 s, 2 s, 4 s, then 5 s, with jitter so a crowd does not reconnect at once.
    const base = Math.min(5000, 500 * 2 ** this.retry);
    this.retry += 1;
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
        reject(Object.assign(new Error('not connected'), { code: 'disconnected' }));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(Object.assign(new Error(`${op} timed out`), { code: 'timeout' }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ id, op, ...fields }));
    });
  }

  /// Subscribes (once per channel) and keeps the subscription across reconnects.
  async subscribe(channel) {
    if (this.subs.has(channel)) return null;
    const sub = { offset: 0, epoch: '', joinLeave: true };
    this.subs.set(channel, sub);
    const r = await this.call('subscribe', { channel, join_leave: true });
    sub.offset = r.offset;
    sub.epoch = r.epoch;
    return r;
  }
}
