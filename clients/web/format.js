// Formatting for the console: numbers, ages, durations, links. No DOM.

export function reach(n) {
  n = Number(n) || 0;
  const short = (v, unit) => `${v >= 100 ? Math.round(v) : Number(v.toFixed(1))}${unit}`;
  if (n >= 1e9) return short(n / 1e9, 'B');
  if (n >= 1e6) return short(n / 1e6, 'M');
  if (n >= 1e3) return short(n / 1e3, 'K');
  return String(n);
}

/// A duration in ms as people say it: "45 s", "4 min", "2 h 5 min"; "—" for none (-1).
export function duration(ms) {
  if (ms === undefined || ms === null || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

export function ago(ms, now) {
  if (!ms) return '';
  const d = now - ms;
  if (d < 45000) return 'just now';
  return `${duration(d)} ago`;
}

export function until(ms, now) {
  if (!ms) return '';
  const d = ms - now;
  return d <= 0 ? 'now' : `in ${duration(d)}`;
}

export function clock(ms) {
  return ms ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '';
}

export function stamp(ms) {
  return ms ? new Date(ms).toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' }) : '—';
}

/// Only web links become clickable: anything else (javascript:, data:) stays text.
export const isHttp = (url) => typeof url === 'string' && /^https?:\/\/[^\s]+$/i.test(url);

export const person = (p) => (p ? p.name || p.user : '');

export const kindLabel = (k) => ({
  holding_statement: 'Holding statement', talking_points: 'Talking points', do_dont: "Do / don't", update: 'Update',
}[k] || k);

const SEV = { sev1: 1, sev2: 2, sev3: 3, sev4: 4 };
export const sevRank = (s) => SEV[s] || 9;

/// Text of a chat message's data (a string, or an object with `text`; anything else as JSON).
export function messageText(data) {
  if (typeof data === 'string') return data;
  if (data && typeof data === 'object' && 'text' in data) return String(data.text);
  return JSON.stringify(data);
}

/// What the sign-in form says for a refused token (PROTOCOL 11.1 reasons).
export function refusal(message = '') {
  const reason = message.replace(/^token refused:\s*/, '');
  if (/expired/.test(reason)) return 'This token has expired. Ask your lead for a new one.';
  if (/malformed/.test(reason)) return 'This is not a complete token (it is malformed). Paste the whole token again.';
  if (/signature/.test(reason)) return 'This token was not issued for this server (its signature is invalid).';
  if (/algorithm/.test(reason)) return 'This token uses an algorithm this server does not accept.';
  if (/revoked/.test(reason)) return 'This token was revoked by an administrator. Ask for a new one.';
  if (/key id/.test(reason)) return 'This token was signed with a key this server does not know. Sign in again.';
  if (/issuer/.test(reason)) return 'This token comes from another sign-in service than this server trusts.';
  if (/audience/.test(reason)) return 'This token was issued for another application.';
  if (/claims/.test(reason)) return 'This token lacks a user or a valid role.';
  if (/not valid yet/.test(reason)) return 'This token is not valid yet. Check your clock or wait.';
  if (/required/.test(message)) return 'Paste a token to sign in.';
  return message || 'The token was refused.';
}
