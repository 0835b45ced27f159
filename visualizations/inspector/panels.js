// Side panels of the inspector page: LRC progress, Status outcomes, supervisors and their restarts.
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

function lrcCard(a) {
  const l = a.lrc ?? {};
  const pct = typeof l.progress === 'number' ? Math.max(0, Math.min(100, l.progress)) : null;
  const status = l.status ?? (a.status === 'active' ? valueText(a.value) : a.status);
  return el(
    'li',
    { class: 'lrc-item', dataset: { key: a.key, active: String(a.status === 'active') } },
    el(
      'div',
      { class: 'head' },
      el('span', {}, `${l.command ?? a.id}`),
      el('span', { class: `status ${l.status ?? ''}` }, String(status ?? '')),
    ),
    el(
      'div',
      { class: 'bar' },
      el('div', { class: 'lrc-progress', style: `width:${pct ?? 0}%`, dataset: { progress: pct ?? '' } }),
    ),
    el(
      'div',
      { class: 'result' },
      [
        pct === null ? '' : `${pct}%`,
        l.outcome ? `outcome ${l.outcome}` : '',
        l.result !== undefined ? `result ${JSON.stringify(l.result).slice(0, 120)}` : '',
        l.error ? l.error : '',
      ]
        .filter(Boolean)
        .join(' · '),
    ),
  );
}

export function renderSide(state) {
  const actors = [...state.actors.values()];
  const live = actors.filter((a) => a.machine === 'lrc');
  const done = state.lrcDone.filter((a) => !state.actors.has(a.key));
  $('#lrcs').replaceChildren(
    ...live.map(lrcCard),
    ...done.map(lrcCard),
    ...(live.length + done.length ? [] : [el('li', { class: 'muted' }, 'no LRC yet')]),
  );
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
