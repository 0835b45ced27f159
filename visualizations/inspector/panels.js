// Side panels of the inspector page: one per registered inspector view, Status outcomes, supervisors and restarts.
export const $ = (sel) => document.querySelector(sel);
export const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
};

export const valueText = (v) => {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  return Object.entries(v)
    .map(([k, x]) => (typeof x === 'string' ? `${k}.${x}` : `${k}.{${valueText(x)}}`))
    .join(', ');
};

const shown = (v) => (typeof v === 'string' ? v : JSON.stringify(v).slice(0, 120));

/** One actor's card in its view's panel: the summary fields the view's `panel.card` names. */
function viewCard(a, card) {
  const s = a.summary && typeof a.summary === 'object' ? a.summary : {};
  const raw = card.progress ? s[card.progress] : undefined;
  const pct = typeof raw === 'number' ? Math.max(0, Math.min(100, raw)) : null;
  const own = card.status ? s[card.status] : undefined;
  const status = own ?? (a.status === 'active' ? valueText(a.value) : a.status);
  const title = card.title && s[card.title] !== undefined ? s[card.title] : a.id;
  const parts = [pct === null ? '' : `${pct}%`];
  for (const f of card.fields ?? []) {
    const v = s[f];
    if (v !== undefined && v !== null && v !== '') parts.push(`${f} ${shown(v)}`);
  }
  return el(
    'li',
    { class: 'view-card', dataset: { key: a.key, active: String(a.status === 'active') } },
    el(
      'div',
      { class: 'head' },
      el('span', {}, String(title)),
      el('span', { class: `status ${own ?? ''}` }, String(status ?? '')),
    ),
    card.progress
      ? el(
          'div',
          { class: 'bar' },
          el('div', {
            class: 'view-progress',
            style: `width:${pct ?? 0}%`,
            dataset: { progress: pct ?? '' },
          }),
        )
      : undefined,
    el('div', { class: 'result' }, parts.filter(Boolean).join(' · ')),
    card.list ? listTable(s[card.list]) : undefined,
  );
}

/** A card's `list` field: rows `{ name, value, status }`, the status cell coloured by its word (at most 50 rows). */
function listTable(rows) {
  if (!Array.isArray(rows) || rows.length === 0) return undefined;
  return el(
    'table',
    { class: 'view-list' },
    ...rows
      .slice(0, 50)
      .map((r) =>
        el(
          'tr',
          { dataset: { name: String(r?.name ?? '') } },
          el('td', {}, String(r?.name ?? '')),
          el('td', { class: `status ${String(r?.status ?? '')}` }, String(r?.status ?? '')),
          el('td', { class: 'data' }, shown(r?.value ?? '')),
        ),
      ),
  );
}

/** One panel per registered inspector view that has one: its live actors, then recently finished ones. */
function renderViewPanels(state, actors) {
  const sections = [];
  for (const view of state.views.values()) {
    const panel = view.panel;
    if (!panel) continue;
    const card = panel.card ?? {};
    const live = actors.filter((a) => a.machine === view.machine);
    const done = (state.viewDone.get(panel.id) ?? []).filter((a) => !state.actors.has(a.key));
    sections.push(
      el(
        'section',
        { class: 'view-panel', dataset: { panel: panel.id, machine: view.machine } },
        el('h2', {}, panel.title),
        el(
          'ul',
          { class: 'cards' },
          ...live.map((a) => viewCard(a, card)),
          ...done.map((a) => viewCard(a, card)),
          ...(live.length + done.length ? [] : [el('li', { class: 'muted' }, panel.empty ?? 'none yet')]),
        ),
      ),
    );
  }
  $('#view-panels').replaceChildren(...sections);
}

export function renderSide(state) {
  const actors = [...state.actors.values()];
  renderViewPanels(state, actors);
  const pending = actors.filter((a) => a.machine === 'status' && a.status === 'active').length;
  $('#status-counts').replaceChildren(
    el('span', {}, `pending ${pending}`),
    ...Object.entries(state.statusCounts).map(([k, n]) => el('span', { class: `status ${k}` }, `${k} ${n}`)),
  );
  $('#status-recent').replaceChildren(
    ...state.statusDone.map((s) =>
      el(
        'li',
        {},
        el('span', { class: `status ${s.outcome}` }, s.outcome),
        ` ${s.id} `,
        s.error ? el('span', { class: 'muted' }, JSON.stringify(s.error).slice(0, 80)) : '',
      ),
    ),
  );
  const sups = actors.filter((a) => a.machine === 'supervisor');
  $('#supervisors').replaceChildren(
    ...sups.map((s) => {
      const restarts = Object.entries(s.context?.restarts ?? {})
        .map(([c, n]) => `${c}×${n}`)
        .join(', ');
      return el(
        'li',
        {},
        el('b', {}, s.systemId ?? s.id),
        ` ${valueText(s.value)} `,
        el('span', { class: 'muted' }, restarts ? `restarts: ${restarts}` : 'no restarts'),
      );
    }),
  );
  const kinds = {
    'child.restarted': 'restart',
    'supervisor.escalated': 'escalated',
    'actor.failed': 'failed',
  };
  $('#engine-log').replaceChildren(
    ...state.engine
      .filter((e) => e.type !== 'actor.spawned')
      .slice(-30)
      .reverse()
      .map((e) => {
        const time = new Date(e.t).toISOString().slice(11, 19);
        const what =
          e.type === 'child.restarted'
            ? `${e.supervisor}: restarted ${(e.children ?? []).join(', ')} (${e.trigger}${e.delayMs ? `, +${e.delayMs}ms` : ''})`
            : e.type === 'child.exited'
              ? `${e.supervisor}: ${e.child} exited (${e.reason})${e.error ? ` ${e.error.message ?? ''}` : ''}`
              : e.type === 'supervisor.escalated'
                ? `${e.supervisor}: escalated after ${e.child}`
                : `${e.actor ?? ''} ${e.type}`;
        return el('li', { class: kinds[e.type] ?? '' }, `${time} ${what}`);
      }),
  );
}
