// Orrery inspector page: plain JS, no build step, no external URL. Talks to the inspector's /ws endpoint.
import { $, el, renderSide, valueText } from './panels.js';

const MAX_LOG = 2000;
const MAX_DONE = 12;
const state = {
  actors: new Map(), // key -> view
  selected: null,
  log: [],
  engine: [],
  views: new Map(), // machine id -> registered inspector view {machine, panel}
  viewDone: new Map(), // panel id -> finished actors it still shows (newest first)
  statusDone: [],
  statusCounts: { succeeded: 0, failed: 0, timedOut: 0, cancelled: 0 },
  dropped: 0,
  readOnly: true,
  eventsSeen: 0,
  rateT: performance.now(),
  rate: 0,
};
const dirty = { tree: true, detail: true, log: true, side: true };
const charts = new Map(); // chart key -> Promise<SVGElement | null | undefined> (see chartFor)
let ws;
// id of the last event sent from the form: its ack or refusal (only declared events of a state machine are
// accepted in read-write mode) is shown next to the form
let sendId = 0;
// reconnection backoff: 0.5 s doubling to 10 s, with jitter, reset once connected (a restarted process is found
// again quickly; a stopped one is not hammered)
let retryMs = 500;

function connect() {
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.onopen = () => {
    retryMs = 500;
    setConn(true);
  };
  ws.onclose = () => {
    setConn(false);
    setTimeout(connect, retryMs * (0.5 + Math.random() / 2));
    retryMs = Math.min(10_000, retryMs * 2);
  };
  ws.onmessage = (m) => {
    let msg;
    try {
      msg = JSON.parse(m.data);
    } catch {
      return;
    }
    if (msg.type === 'hello') onHello(msg);
    else if (msg.type === 'batch') onBatch(msg);
    else if (msg.type === 'error') {
      console.warn('inspector:', msg.message);
      if (msg.id !== undefined && msg.id === sendId) $('#send-status').textContent = msg.message;
    } else if (msg.type === 'ack' && msg.id === sendId) $('#send-status').textContent = 'sent';
  };
}

function setConn(on) {
  const c = $('#conn');
  c.textContent = on ? 'live' : 'disconnected';
  c.className = `badge ${on ? 'on' : 'off'}`;
}

function onHello(msg) {
  state.actors.clear();
  state.readOnly = msg.readOnly;
  setViews(msg.views ?? []);
  $('#mode').textContent = msg.readOnly ? 'read-only' : 'read-write';
  for (const a of msg.actors) upsert(a);
  state.engine = msg.engine.slice(-200);
  state.log = msg.events.slice(-MAX_LOG);
  Object.assign(dirty, { tree: true, detail: true, log: true, side: true });
}

function setViews(views) {
  state.views = new Map(views.map((v) => [v.machine, v]));
  dirty.side = true;
}

function onBatch(msg) {
  if (msg.views) setViews(msg.views);
  // actors that started and ended within one batch, past the last few of their machine (sent in full): counted
  for (const f of msg.finished ?? []) {
    if (f.machine !== 'status' || f.status !== 'done') continue;
    const outcome = f.value ?? 'done';
    state.statusCounts[outcome] = (state.statusCounts[outcome] ?? 0) + f.count;
    dirty.side = true;
  }
  for (const a of msg.actors) upsert(a);
  for (const key of msg.stopped) remove(key);
  if (msg.events.length && !$('#log-pause').checked) {
    state.log.push(...msg.events);
    if (state.log.length > MAX_LOG) state.log.splice(0, state.log.length - MAX_LOG);
    dirty.log = true;
  }
  state.eventsSeen += msg.events.length;
  state.dropped += msg.dropped;
  if (msg.engine.length) {
    state.engine.push(...msg.engine);
    if (state.engine.length > 200) state.engine.splice(0, state.engine.length - 200);
    dirty.side = true;
  }
}

function upsert(a) {
  const prev = state.actors.get(a.key);
  // structure changes rebuild the tree; a new state or status only updates that actor's row in place
  if (!prev || prev.parent !== a.parent) dirty.tree = true;
  else if (prev.status !== a.status || JSON.stringify(prev.value) !== JSON.stringify(a.value))
    changedRows.add(a.key);
  state.actors.set(a.key, a);
  if (a.key === state.selected) dirty.detail = true;
  if (a.panel || a.machine === 'status' || a.machine === 'supervisor') dirty.side = true;
  if (a.status !== 'active' && (!prev || prev.status === 'active')) finished(a);
}

function finished(a) {
  if (a.panel) {
    const done = state.viewDone.get(a.panel) ?? [];
    done.unshift(a);
    done.length = Math.min(done.length, MAX_DONE);
    state.viewDone.set(a.panel, done);
  }
  if (a.machine === 'status' && a.status === 'done') {
    const outcome = typeof a.value === 'string' ? a.value : 'done';
    state.statusCounts[outcome] = (state.statusCounts[outcome] ?? 0) + 1;
    state.statusDone.unshift({ id: a.id, outcome, t: a.updatedAt, error: a.context?.error });
  }
  state.statusDone.length = Math.min(state.statusDone.length, MAX_DONE);
}

function remove(key) {
  const a = state.actors.get(key);
  if (!a) return;
  state.actors.delete(key);
  dirty.tree = true;
  dirty.side = true;
  if (key === state.selected) dirty.detail = true;
}

// ------------------------------------------------------------------------------------------------ rendering

function activePaths(value, prefix = '') {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    return [p, ...activePaths(v, p)];
  });
}

const label = (a) => a.systemId || a.id;
/**
 * The rendered row (and list item) of each actor in the tree, kept across rebuilds: state changes update it in
 * place, and a rebuild (an actor added or gone) moves the same elements, so a row under the pointer is never
 * replaced by a copy while it is clicked, however busy the system.
 */
const rows = new Map();
const changedRows = new Set();

/** The kept row of `a`, brought up to date (made on first use). */
function rowOf(a) {
  let r = rows.get(a.key);
  if (!r) {
    const dot = el('span', { class: 'dot' });
    const name = el('span', { class: 'name' });
    const machine = el('span', { class: 'machine' });
    const value = el('span', { class: 'value' });
    const row = el('div', { class: 'row', dataset: { key: a.key } }, dot, name, machine, value);
    const li = el('li', { class: 'actor', dataset: { key: a.key } }, row);
    r = { row, dot, name, machine, value, li };
    rows.set(a.key, r);
  }
  r.row.className = `row${a.key === state.selected ? ' selected' : ''}`;
  r.dot.className = `dot ${a.status}`;
  r.name.textContent = label(a);
  r.machine.textContent = a.machine;
  r.value.textContent = valueText(a.value);
  r.li.dataset.machine = a.machine;
  return r;
}

function updateRows() {
  if ($('#tree-filter').value.trim()) {
    // a filter may match on the state: membership can change, so rebuild
    if (changedRows.size) dirty.tree = true;
    changedRows.clear();
    return;
  }
  for (const key of changedRows) {
    const a = state.actors.get(key);
    const r = rows.get(key);
    if (!a || !r) continue;
    r.dot.className = `dot ${a.status}`;
    r.value.textContent = valueText(a.value);
  }
  changedRows.clear();
}

function renderTree() {
  const filter = $('#tree-filter').value.trim().toLowerCase();
  const children = new Map();
  const roots = [];
  for (const a of state.actors.values()) {
    if (a.parent && state.actors.has(a.parent)) {
      if (!children.has(a.parent)) children.set(a.parent, []);
      children.get(a.parent).push(a);
    } else roots.push(a);
  }
  const matches = (a) =>
    !filter || `${label(a)} ${a.machine} ${valueText(a.value)}`.toLowerCase().includes(filter);
  changedRows.clear();
  const shownKeys = new Set();
  const item = (a) => {
    const r = rowOf(a);
    shownKeys.add(a.key);
    const kids = (children.get(a.key) ?? []).filter((k) => matches(k) || children.has(k.key));
    if (kids.length) r.li.replaceChildren(r.row, el('ul', {}, ...kids.map(item)));
    else r.li.replaceChildren(r.row);
    return r.li;
  };
  const tree = $('#actor-tree');
  const supervised = roots.filter((a) => a.machine === 'supervisor');
  const detached = roots.filter((a) => a.machine !== 'supervisor');
  const groups = new Map();
  for (const a of detached) {
    if (!matches(a)) continue;
    if (!groups.has(a.machine)) groups.set(a.machine, []);
    groups.get(a.machine).push(a);
  }
  const nodes = supervised.map(item);
  for (const [machine, list] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const shown = list.slice(0, 50).map(item);
    if (list.length > 50) shown.push(el('li', { class: 'muted' }, `… ${list.length - 50} more`));
    nodes.push(
      el(
        'li',
        { class: 'group', dataset: { group: machine } },
        el('div', { class: 'row' }, `detached ${machine} (${list.length})`),
        el('ul', {}, ...shown),
      ),
    );
  }
  tree.replaceChildren(...nodes);
  // the rows of actors gone or not shown are dropped (made again if they come back)
  for (const key of rows.keys()) if (!shownKeys.has(key)) rows.delete(key);
}

function select(key) {
  rows.get(state.selected)?.row.classList.remove('selected');
  state.selected = key;
  rows.get(key)?.row.classList.add('selected');
  dirty.detail = true;
  if ($('#log-selected').checked) dirty.log = true;
}

/**
 * A machine's chart: the SVG, null when the server has none (404, kept), or undefined when it could not be had
 * (a failed request, a server error): forgotten after `CHART_RETRY_MS`, then the detail is drawn again and asks.
 */
const CHART_RETRY_MS = 2000;
function chartFor(key) {
  let chart = charts.get(key);
  if (!chart) {
    chart = fetch(`charts/${encodeURIComponent(key)}.svg`)
      .then((r) => (r.ok ? r.text() : r.status === 404 ? null : undefined))
      .then((text) => {
        if (typeof text !== 'string') return text;
        const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
        const svg = doc.documentElement;
        return svg.nodeName === 'svg' ? svg : null;
      })
      .catch(() => undefined);
    charts.set(key, chart);
    const asked = chart;
    chart.then((svg) => {
      if (svg === undefined) {
        setTimeout(() => {
          if (charts.get(key) !== asked) return;
          charts.delete(key);
          // the detail asks again even when the selected actor does not change meanwhile
          dirty.detail = true;
        }, CHART_RETRY_MS);
      }
    });
  }
  return chart;
}

let shownChart = null;
async function renderDetail() {
  const a = state.actors.get(state.selected);
  const meta = $('#detail-meta');
  if (!a) {
    $('#detail-title').textContent = state.selected ? 'stopped' : 'select an actor';
    meta.replaceChildren();
    $('#detail-context').textContent = '';
    $('#chart').replaceChildren();
    $('#send-form').hidden = true;
    shownChart = null;
    return;
  }
  $('#detail-title').textContent = label(a);
  const rows = [
    ['id', a.id],
    ['systemId', a.systemId ?? '—'],
    ['machine', a.machine],
    ['supervisor', a.supervisor ?? (state.actors.get(a.parent)?.systemId || '—')],
    ['status', a.status],
    ['state', valueText(a.value) || '—'],
  ];
  if (a.error) rows.push(['error', JSON.stringify(a.error)]);
  meta.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]));
  $('#detail-context').textContent = JSON.stringify(a.context ?? null, null, 2);
  $('#send-form').hidden = state.readOnly || !a.systemId;
  const box = $('#chart');
  if (!a.chart) {
    box.replaceChildren(el('div', { class: 'muted' }, 'no statechart (not a state machine)'));
    shownChart = null;
    return;
  }
  if (shownChart !== a.chart) {
    const svg = await chartFor(a.chart);
    if (state.selected !== a.key) return;
    // (a chart that could not be had is asked for again by a later render)
    shownChart = svg === undefined ? null : a.chart;
    box.replaceChildren(
      svg ? document.importNode(svg, true) : el('div', { class: 'muted' }, 'chart unavailable'),
    );
  }
  const active = new Set(activePaths(a.value));
  for (const g of box.querySelectorAll('g.state[data-path]')) {
    g.classList.toggle('active', active.has(g.dataset.path));
  }
}

function renderLog() {
  const actorF = $('#log-actor').value.trim().toLowerCase();
  const typeF = $('#log-type').value.trim().toLowerCase();
  const onlySel = $('#log-selected').checked;
  const internal = $('#log-internal').checked;
  const rows = [];
  for (let i = state.log.length - 1; i >= 0 && rows.length < 300; i--) {
    const e = state.log[i];
    if (!internal && e.type.startsWith('xstate.')) continue;
    if (onlySel && e.target !== state.selected && e.source !== state.selected) continue;
    if (typeF && !e.type.toLowerCase().includes(typeF)) continue;
    if (actorF) {
      const names = [e.targetId, e.sourceId, state.actors.get(e.target)?.systemId].join(' ').toLowerCase();
      if (!names.includes(actorF)) continue;
    }
    const time = new Date(e.t).toISOString().slice(11, 23);
    const data = e.data === undefined ? '' : JSON.stringify(e.data).slice(0, 300);
    rows.push(
      el(
        'tr',
        {},
        el('td', {}, time),
        el('td', {}, e.type),
        el('td', {}, e.sourceId ?? ''),
        el('td', {}, e.targetId),
        el('td', { class: 'data' }, data),
      ),
    );
  }
  $('#event-log tbody').replaceChildren(...rows);
  $('#log-dropped').textContent = state.dropped ? `${state.dropped} log lines dropped` : '';
}

function frame() {
  const now = performance.now();
  if (now - state.rateT >= 1000) {
    state.rate = Math.round((state.eventsSeen * 1000) / (now - state.rateT));
    state.eventsSeen = 0;
    state.rateT = now;
    $('#stats').textContent = `${state.actors.size} actors · ${state.rate} events/s`;
  }
  if (changedRows.size) updateRows();
  if (dirty.tree) renderTree();
  if (dirty.detail) renderDetail();
  if (dirty.log) renderLog();
  if (dirty.side) renderSide(state);
  dirty.tree = dirty.detail = dirty.log = dirty.side = false;
}

for (const id of ['#log-actor', '#log-type', '#log-selected', '#log-internal']) {
  $(id).addEventListener('input', () => (dirty.log = true));
}
$('#tree-filter').addEventListener('input', () => (dirty.tree = true));
// one delegated handler: a row rebuilt between mousedown and mouseup still selects
$('#actor-tree').addEventListener('click', (ev) => {
  const row = ev.target instanceof Element ? ev.target.closest('.row[data-key]') : null;
  if (row) select(row.dataset.key);
});
$('#send-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const a = state.actors.get(state.selected);
  if (!a?.systemId || ws.readyState !== WebSocket.OPEN) return;
  let payload = {};
  try {
    payload = $('#send-payload').value ? JSON.parse($('#send-payload').value) : {};
  } catch {
    return alert('payload is not JSON');
  }
  sendId += 1;
  $('#send-status').textContent = '';
  ws.send(
    JSON.stringify({
      type: 'send',
      id: sendId,
      systemId: a.systemId,
      event: { ...payload, type: $('#send-type').value },
    }),
  );
});

setInterval(frame, 200);
connect();
