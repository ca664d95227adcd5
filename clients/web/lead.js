// The lead desk: stats, the post-crisis report, the timeline with filters, guidance versions
// with who got, read and acknowledged each, and the approval queue. HTTP API calls carry the
// token in an Authorization header (PROTOCOL 20); the HTML report is downloaded, never framed.
import { useEffect, useState } from './vendor/hooks.mjs';
import * as S from './store.js';
import { clock, duration, isHttp, kindLabel, messageText, person, reach, stamp } from './format.js';
import { Badge, Tabs, html } from './ui.js';

const DESK = [['stats', 'Stats'], ['report', 'Report'], ['timeline', 'Timeline'], ['guidance', 'Guidance history'], ['approvals', 'Approvals'], ['people', 'People']];

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${S.client.token}` } });
  if (!res.ok) {
    let msg = `${res.status}`;
    try { msg = (await res.json()).error.message; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

export function LeadDesk() {
  const [tab, setTab] = useState('stats');
  const name = S.current.value;
  return html`<section class="pane desk" aria-labelledby="desk-title" data-focus-home="desk-title">
    <h2 id="desk-title" tabindex="-1">Lead desk${name ? html`: <span dir="auto">${S.channels.value.get(name)?.title || name}</span>` : ''}</h2>
    ${!name ? html`<p class="hint">Choose a channel.</p>` : html`
      <${Tabs} label="Lead desk" idPrefix="desk" tabs=${DESK} value=${tab} onChange=${setTab} />
      <div role="tabpanel" aria-labelledby=${`desk-${tab}`} class="desk-body" key=${`${name}:${tab}`}>
        ${tab === 'stats' && html`<${Stats} channel=${name} />`}
        ${tab === 'report' && html`<${Report} channel=${name} />`}
        ${tab === 'timeline' && html`<${Timeline} channel=${name} />`}
        ${tab === 'guidance' && html`<${GuidanceHistory} ch=${S.chan(name)} />`}
        ${tab === 'approvals' && html`<${Approvals} ch=${S.chan(name)} />`}
        ${tab === 'people' && html`<${Members} channel=${name} />`}
      </div>`}
  </section>`;
}

const Num = ({ label, value }) => html`<div class="num"><span class="num-value">${value}</span><span class="num-label">${label}</span></div>`;

/// Horizontal bars (no canvas, no inline style attribute: widths go through the CSSOM).
function Bars({ rows, caption }) {
  const max = Math.max(1, ...rows.map((r) => r[1]));
  return html`<figure class="bars"><figcaption>${caption}</figcaption>
    <ul>${rows.map(([k, v]) => html`<li key=${k}><span class="bar-label">${k}</span>
      <span class="bar" style=${{ width: `${(v / max) * 100}%` }}></span><span class="bar-value">${v}</span></li>`)}</ul></figure>`;
}

function Stats({ channel }) {
  const [st, setSt] = useState(null);
  const [err, setErr] = useState('');
  const load = () => S.client.call('stats', { channel }).then((r) => setSt(r.channels[0])).catch((e) => setErr(e.message));
  useEffect(() => { load(); const t = setInterval(load, 5000); return () => clearInterval(t); }, [channel]);
  if (err) return html`<p class="error" role="alert">${err}</p>`;
  if (!st) return html`<p role="status">Loading…</p>`;
  const a = st.alerts;
  return html`<div class="stats" data-total=${a.total}>
    <div class="nums">
      <${Num} label="alerts" value=${a.total} /><${Num} label="new" value=${a.new} /><${Num} label="escalated" value=${a.escalated} />
      <${Num} label="median time to claim" value=${duration(st.median_time_to_claim_ms)} />
      <${Num} label="median time to respond" value=${duration(st.median_time_to_respond_ms)} />
      <${Num} label="guidance acks" value=${st.guidance.acks} />
      <${Num} label="approvals pending" value=${st.approvals.pending} />
    </div>
    <${Bars} caption="Alerts by status" rows=${['new', 'claimed', 'responded', 'resolved', 'dismissed'].map((k) => [k, a[k]])} />
    <${PeopleTable} people=${st.people} />
  </div>`;
}

function PeopleTable({ people }) {
  return html`<table class="people"><caption>People</caption>
    <thead><tr><th scope="col">Person</th><th scope="col">Claimed</th><th scope="col">Responded</th><th scope="col">Median to respond</th><th scope="col">Acks</th></tr></thead>
    <tbody>${people.map((p) => html`<tr key=${p.user}><td>${p.name}</td><td>${p.claimed}</td><td>${p.responded}</td><td>${duration(p.median_time_to_respond_ms ?? p.median_response_ms)}</td><td>${p.acks}</td></tr>`)}</tbody></table>`;
}

async function download(channel, format) {
  try {
    const res = await api(`/api/v1/channels/${encodeURIComponent(channel)}/report?format=${format}`);
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `report-${channel}.${format}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    S.toast(`Report: ${err.message}`);
  }
}

function Histogram({ h, caption }) {
  if (!h || !h.histogram) return null;
  const name = (b) => (b.to_ms === null ? `${duration(b.from_ms)}+` : `${duration(b.from_ms)}–${duration(b.to_ms)}`);
  return html`<${Bars} caption=${`${caption}: median ${duration(h.median_ms)}, p90 ${duration(h.p90_ms)} (${h.count})`} rows=${h.histogram.map((b) => [name(b), b.count])} />`;
}

function Volume({ v }) {
  if (!v || !v.buckets.length) return null;
  const W = 600;
  const H = 120;
  const max = Math.max(1, ...v.buckets.map((b) => b.total));
  const w = W / v.buckets.length;
  return html`<figure class="volume"><figcaption>Alerts per ${duration(v.bucket_ms)} by severity${v.spikes.length ? `, ${v.spikes.length} spike${v.spikes.length > 1 ? 's' : ''}` : ''}</figcaption>
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`Volume over ${v.buckets.length} buckets, at most ${max} alerts in one`}>
      ${v.buckets.map((b, i) => {
        let y = H;
        return ['sev4', 'sev3', 'sev2', 'sev1'].map((s) => {
          const hgt = (b[s] / max) * (H - 4);
          y -= hgt;
          return b[s] ? html`<rect key=${`${i}${s}`} class=${`vol-${s}`} x=${i * w + 1} y=${y} width=${Math.max(1, w - 2)} height=${hgt}></rect>` : null;
        });
      })}
      ${v.spikes.map((s) => {
        const i = v.buckets.findIndex((b) => b.start > s.at) - 1;
        const x = (i < 0 ? v.buckets.length - 1 : i) * w + w / 2;
        return html`<line key=${s.offset} class="spike" x1=${x} x2=${x} y1="0" y2=${H}></line>`;
      })}
    </svg></figure>`;
}

function Report({ channel }) {
  const [r, setR] = useState(null);
  const [err, setErr] = useState('');
  useEffect(() => {
    api(`/api/v1/channels/${encodeURIComponent(channel)}/report`).then((res) => res.json()).then(setR).catch((e) => setErr(e.message));
  }, [channel]);
  return html`<div class="report">
    <div class="row">
      <button type="button" id="report-html" onClick=${() => download(channel, 'html')}>Download the report page (HTML)</button>
      <button type="button" class="secondary" onClick=${() => download(channel, 'csv')}>Download alerts (CSV)</button>
    </div>
    ${err && html`<p class="error" role="alert">${err}</p>`}
    ${!r && !err && html`<p role="status">Building the report…</p>`}
    ${r && html`<div data-events=${r.events}>
      <p>${r.events} events from ${stamp(r.from)} to ${stamp(r.to)}${r.drill ? ' · drill' : ''}.</p>
      <div class="nums">
        <${Num} label="alerts" value=${r.alerts.length} /><${Num} label="escalations" value=${r.escalations.total} />
        <${Num} label="duplicates folded" value=${r.duplicates.folded} /><${Num} label="proposals" value=${r.approvals.proposals} />
        ${r.drill_scoring && html`<${Num} label="drill score" value=${`${Math.round(r.drill_scoring.score * 100)}%`} />`}
      </div>
      <${Volume} v=${r.volume} />
      <${Histogram} h=${r.time_to_claim} caption="Time to claim" />
      <${Histogram} h=${r.time_to_respond} caption="Time to respond" />
      ${r.drill_scoring && html`<table><caption>Drill targets</caption><thead><tr><th scope="col">Target</th><th scope="col">Goal</th><th scope="col">Measured</th><th scope="col">Met</th></tr></thead>
        <tbody>${r.drill_scoring.targets.map((t) => html`<tr key=${t.name}><td>${t.name}</td><td>${t.target}</td><td>${t.measured}</td><td>${t.met ? 'yes' : 'no'}</td></tr>`)}</tbody></table>`}
      <table><caption>Guidance</caption><thead><tr><th scope="col">Guidance</th><th scope="col">Version</th><th scope="col">Acks</th><th scope="col">Median ack delay</th></tr></thead>
        <tbody>${r.guidance.flatMap((g) => g.versions.map((v) => html`<tr key=${`${g.id}:${v.version}`}><td dir="auto">${v.title}</td><td>${v.version}</td><td>${v.acks}</td><td>${duration(v.median_ack_delay_ms)}</td></tr>`))}</tbody></table>
      <table><caption>People</caption><thead><tr><th scope="col">Person</th><th scope="col">Score</th><th scope="col">Claimed</th><th scope="col">Responded</th><th scope="col">Acks</th></tr></thead>
        <tbody>${r.people.map((p) => html`<tr key=${p.user}><td>${p.name}</td><td>${p.score}</td><td>${p.claimed}</td><td>${p.responded}</td><td>${p.acks}</td></tr>`)}</tbody></table>
    </div>`}
  </div>`;
}

const KINDS = [['', 'Everything'], ['message', 'Chat'], ['alert.', 'Alerts'], ['guidance.', 'Guidance'], ['channel.', 'Channel'], ['template.', 'Templates']];

function describe(ev) {
  const d = ev.data || {};
  if (ev.event === 'message') return messageText(d);
  if (d.alert && typeof d.alert === 'object') return `${d.alert.author || d.alert.source}: ${d.alert.text.slice(0, 140)}${d.step ? ` (step ${d.step}, ${d.reason})` : ''}${d.proposal ? ` — proposal ${d.proposal.state}` : ''}`;
  if (d.guidance && typeof d.guidance === 'object') return `${kindLabel(d.guidance.kind)}: ${d.guidance.title} v${d.guidance.version}`;
  if (ev.event === 'guidance.acked') return `${d.name} acknowledged v${d.version}`;
  if (d.channel && typeof d.channel === 'object') return `${d.channel.title} (${d.channel.severity}, ${d.channel.status})`;
  if (d.name) return d.name;
  return '';
}

function Timeline({ channel }) {
  const [events, setEvents] = useState(null);
  const [err, setErr] = useState('');
  const [kind, setKind] = useState('');
  const [who, setWho] = useState('');
  const [text, setText] = useState('');
  const load = () => api(`/api/v1/channels/${encodeURIComponent(channel)}/timeline`).then((res) => res.text())
    .then((t) => setEvents(t.split('\n').filter(Boolean).map((l) => JSON.parse(l)))).catch((e) => setErr(e.message));
  useEffect(() => { load(); }, [channel]);
  const q = text.trim().toLowerCase();
  const w = who.trim().toLowerCase();
  const shown = (events || []).filter((ev) => (!kind || ev.event === kind || (kind.endsWith('.') && ev.event.startsWith(kind))) &&
    (!w || (ev.sender?.name || '').toLowerCase().includes(w)) && (!q || describe(ev).toLowerCase().includes(q))).reverse();
  return html`<div class="timeline">
    <div class="toolbar">
      <label for="tl-kind">Show</label>
      <select id="tl-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>${KINDS.map(([k, t]) => html`<option key=${k} value=${k}>${t}</option>`)}</select>
      <label for="tl-who">By</label><input id="tl-who" value=${who} onInput=${(e) => setWho(e.target.value)} />
      <label for="tl-text">Text</label><input id="tl-text" type="search" value=${text} onInput=${(e) => setText(e.target.value)} />
      <button type="button" class="secondary" onClick=${load}>Reload</button>
    </div>
    ${err && html`<p class="error" role="alert">${err}</p>`}
    ${events && html`<p class="meta" role="status">${shown.length} of ${events.length} events${shown.length > 500 ? ', newest 500 shown' : ''}</p>`}
    <ol class="timeline-list">${shown.slice(0, 500).map((ev) => html`<li key=${ev.offset} data-event=${ev.event}>
      <time>${clock(ev.ts)}</time> <span class="ev">${ev.event}</span> <span class="who">${ev.sender?.name}</span> <span dir="auto">${describe(ev)}</span></li>`)}</ol>
  </div>`;
}

function GuidanceHistory({ ch }) {
  const pinned = [...ch.pinned.value.values()];
  useEffect(() => {
    const load = () => { for (const g of ch.pinned.value.values()) S.refreshStatus(ch.name, g.id); };
    load();
    const t = setInterval(load, 3000);
    return () => clearInterval(t);
  }, [ch.name]);
  if (!pinned.length) return html`<p class="hint">No guidance in this channel yet.</p>`;
  return html`<div class="ghistory">${pinned.map((g) => {
    const st = S.statusOf(ch, g.id).value;
    const texts = ch.versions.get(g.id) || new Map();
    const versions = [...g.history, { version: g.version, at: g.revised_at || g.posted_at, by: g.revised_by || g.by, changes: g.changes }];
    return html`<section key=${g.id} class="gh-item" data-guidance=${g.id} aria-labelledby=${`gh-${g.id}`}>
      <h3 id=${`gh-${g.id}`}>${kindLabel(g.kind)}: <span dir="auto">${g.title}</span></h3>
      <ol class="versions">${versions.map((v) => html`<li key=${v.version}><strong>v${v.version}</strong> ${stamp(v.at)} by ${person(v.by)}${v.changes ? ` — ${v.changes}` : ''}
        ${texts.get(v.version) && html`<p dir="auto" class="user-text">${texts.get(v.version).body}</p>`}</li>`)}</ol>
      ${st && html`<table class="receipts"><caption>Version ${g.version}: ${st.acknowledged.length} of ${st.acknowledged.length + st.pending.length} members acknowledged</caption>
        <thead><tr><th scope="col">Person</th><th scope="col">State</th><th scope="col">Delivered</th><th scope="col">Read</th><th scope="col">Acknowledged</th><th scope="col">Last acked version</th></tr></thead>
        <tbody>${st.people.map((p) => html`<tr key=${p.user} data-user=${p.user} data-state=${p.state}><td>${p.name}${p.member ? '' : ' (not a member)'}</td>
          <td class="state">${p.state}</td><td>${clock(p.delivered_at)}</td><td>${clock(p.read_at)}</td><td>${clock(p.acked_at)}</td><td>${p.acked_version || '—'}</td></tr>`)}</tbody></table>`}
    </section>`;
  })}</div>`;
}

function Approvals({ ch }) {
  const list = ch.approvals.value;
  useEffect(() => { S.refreshApprovals(ch.name); }, [ch.name]);
  if (!list) return html`<p role="status">Loading…</p>`;
  if (!list.length) return html`<p class="hint">No reply is waiting for approval.</p>`;
  return html`<ul class="approvals">${list.map(({ alert: a, proposal: p, waiting_ms: w }) => html`<${ApprovalItem} key=${p.id} a=${a} p=${p} w=${w} />`)}</ul>`;
}

function ApprovalItem({ a, p, w }) {
  const [text, setText] = useState(p.text);
  const [comment, setComment] = useState('');
  const decide = async (op, fields) => {
    if (await S.act(op, a, { proposal: p.id, ...fields }, op)) S.refreshApprovals(a.channel);
  };
  return html`<li class="approval" data-proposal=${p.id}>
    <p><${Badge} text=${a.severity} kind="sev" /> <strong dir="auto">${a.author}</strong>: <span dir="auto">${a.text.slice(0, 200)}</span></p>
    <p class="meta">proposed by ${person(p.by)}, waiting ${duration(w)}${p.template ? `, from template ${p.template}` : ''}${p.overdue ? ' · overdue' : ''} · reach ${reach(a.metrics?.reach)}</p>
    ${p.url && html`<p>${isHttp(p.url) ? html`<a href=${p.url} target="_blank" rel="noopener noreferrer">${p.url}</a>` : p.url}</p>`}
    <label for=${`ap-text-${p.id}`}>Reply text (edit before approving if needed)</label>
    <textarea id=${`ap-text-${p.id}`} rows="3" dir="auto" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
    <label for=${`ap-comment-${p.id}`}>Comment (required to reject)</label>
    <input id=${`ap-comment-${p.id}`} value=${comment} onInput=${(e) => setComment(e.target.value)} />
    <div class="row">
      <button type="button" class="approve" onClick=${() => decide('alert.approve', { ...(text !== p.text ? { text } : {}), ...(comment ? { comment } : {}) })}>Approve${text !== p.text ? ' with edits' : ''}</button>
      <button type="button" class="reject danger" onClick=${() => (comment.trim() ? decide('alert.reject', { comment }) : S.toast('Write a comment to reject'))}>Reject</button>
    </div>
  </li>`;
}

function Members({ channel }) {
  const [m, setM] = useState(null);
  const [err, setErr] = useState('');
  useEffect(() => { S.client.call('channel.members', { channel }).then((r) => setM(r.members)).catch((e) => setErr(e.message)); }, [channel]);
  if (err) return html`<p class="error" role="alert">${err}</p>`;
  if (!m) return html`<p role="status">Loading…</p>`;
  return html`<table class="members"><caption>Members of ${channel} (${m.filter((x) => x.online).length} online)</caption>
    <thead><tr><th scope="col">Person</th><th scope="col">Role</th><th scope="col">Online</th><th scope="col">Member since</th><th scope="col">Last seen</th></tr></thead>
    <tbody>${m.map((x) => html`<tr key=${x.user}><td>${x.name}</td><td>${x.role}</td><td>${x.online ? 'yes' : 'no'}</td><td>${stamp(x.since)}</td><td>${stamp(x.last_seen)}</td></tr>`)}</tbody></table>`;
}
