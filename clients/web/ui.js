// Small shared pieces of the console's UI: badges, tab lists with arrow keys, "show more", drafts
// that outlive re-renders, and the focus guard.
import { html } from './vendor/htm-preact.mjs';
import { useState } from './vendor/hooks.mjs';
import { signal } from './vendor/signals.mjs';

export { html };

export const Badge = ({ text, kind, label }) =>
  html`<span class=${`badge ${kind} ${kind}-${text}`} aria-label=${label}>${text}</span>`;

/// A tab list (WAI-ARIA): one tab in the Tab order, arrow keys, Home and End move and select.
export function Tabs({ label, tabs, value, onChange, idPrefix }) {
  const keys = tabs.map((t) => t[0]);
  const move = (ev) => {
    const i = keys.indexOf(value);
    let j = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: keys.length - 1 }[ev.key];
    if (j === undefined) return;
    ev.preventDefault();
    j = (j + keys.length) % keys.length;
    onChange(keys[j]);
    const el = document.getElementById(`${idPrefix}-${keys[j]}`);
    if (el) el.focus();
  };
  return html`<div class="tabs" role="tablist" aria-label=${label} onKeyDown=${move}>
    ${tabs.map(([key, text, count]) => html`<button type="button" role="tab" id=${`${idPrefix}-${key}`} key=${key}
        data-tab=${key} aria-selected=${String(key === value)} tabindex=${key === value ? 0 : -1}
        onClick=${() => onChange(key)}>${text}${count !== undefined ? html` <span class="count">${count}</span>` : ''}</button>`)}
  </div>`;
}

/// Long user text collapsed to `limit` characters with a "show more" toggle; dir=auto so
/// right-to-left posts align as they were written.
export function LongText({ text, limit = 600, cls = 'text' }) {
  const [open, setOpen] = useState(false);
  const long = text.length > limit;
  return html`<div class=${cls}>
    <p dir="auto" class="user-text">${long && !open ? `${text.slice(0, limit)}…` : text}</p>
    ${long && html`<button type="button" class="link" aria-expanded=${String(open)} onClick=${() => setOpen(!open)}>${open ? 'Show less' : `Show more (${text.length} characters)`}</button>`}
  </div>`;
}

const drafts = new Map();
/// A draft kept by key (an alert's reply, a channel's chat box) across re-renders and remounts.
export function draft(key) {
  if (!drafts.has(key)) drafts.set(key, signal(''));
  return drafts.get(key);
}

// Focus guard: when the focused element disappears after an action (a Claim button replaced by
// the holder's controls, a card moving to another tab), focus goes back to the nearest
// `data-focus-home` container it was in, never to <body>.
let lastFocused = null;
let home = null;
document.addEventListener('focusin', (ev) => {
  lastFocused = ev.target;
  const h = ev.target.closest && ev.target.closest('[data-focus-home]');
  if (h) home = h.getAttribute('data-focus-home');
});
setInterval(() => {
  const active = document.activeElement;
  if ((!active || active === document.body) && lastFocused && !lastFocused.isConnected && home) {
    const el = document.getElementById(home);
    lastFocused = null;
    if (el) el.focus();
  }
}, 100);
