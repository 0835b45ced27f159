/**
 * The inspector's view registry. The inspector knows no protocol by name: a protocol (or a user) registers which
 * machine it draws, what to show from that machine's context and events, and the page panel that lists it.
 *
 * - `summarise(context, previous, redact, snapshot)` folds an actor's context into its summary (called on each
 *   snapshot; `snapshot` carries the state value and the actor's status).
 * - `onEvent(type, event, { context, summary, redact })` folds an event the actor received into its summary;
 *   return undefined when the event says nothing new.
 * - `panel` names the side panel (`id`, `title`, `empty` text) and which summary fields the page shows on each
 *   actor's card (`card.title`, `card.status`, `card.progress` as 0..100, `card.fields`, and `card.list`: a field
 *   holding rows `{ name, value, status }` drawn as a table whose status cells are coloured by their status word,
 *   e.g. a device's sensors).
 *
 * Both functions run at flush time, never on the engine's call stack; one that throws leaves that actor's summary
 * as it was (the failure is logged). Summaries pass the inspector's redactor before they leave the process.
 *
 * @example
 * registerInspectorView({
 *   machine: 'shutter',
 *   summarise: (context) => ({ position: (context as { position: string }).position }),
 *   panel: { id: 'shutters', title: 'Shutters', card: { status: 'position' } },
 * });
 */
import { InvalidArgumentError } from '../errors.js';
import type { Redactor } from './redact.js';

export interface InspectorPanel {
  /** Panel id: letters, digits, `_` and `-` (1 to 60). */
  id: string;
  /** Panel heading on the page. */
  title: string;
  /** Text shown while the panel lists no actor. Default `none yet`. */
  empty?: string;
  /** Which summary fields each actor's card shows. Absent fields show the actor's id and state. */
  card?: { title?: string; status?: string; progress?: string; fields?: string[]; list?: string };
}

export interface InspectorViewEventContext<S> {
  context: unknown;
  summary: S | undefined;
  redact: Redactor;
}

export interface InspectorView<S extends object = Record<string, unknown>> {
  /** The machine's id (`createMachine({ id })`), as the inspector shows it in an actor's `machine`. */
  machine: string;
  summarise?(
    context: unknown,
    previous: S | undefined,
    redact: Redactor,
    snapshot?: { value: unknown; status?: string },
  ): S | undefined;
  onEvent?(type: string, event: unknown, ctx: InspectorViewEventContext<S>): S | undefined;
  panel?: InspectorPanel;
}

/** What the page receives about a view (no functions). */
export interface InspectorViewInfo {
  machine: string;
  panel?: InspectorPanel;
}

const ID_RE = /^[A-Za-z0-9_-]{1,60}$/;
const views = new Map<string, InspectorView<object>>();
let version = 0;

function checkView(view: InspectorView<object>): void {
  if (!view || typeof view !== 'object')
    throw new InvalidArgumentError('an inspector view must be an object');
  if (typeof view.machine !== 'string' || !view.machine || view.machine.length > 100)
    throw new InvalidArgumentError('an inspector view needs `machine`: the machine id (1 to 100 characters)');
  for (const name of ['summarise', 'onEvent'] as const) {
    if (view[name] !== undefined && typeof view[name] !== 'function')
      throw new InvalidArgumentError(`inspector view '${view.machine}': ${name} must be a function`);
  }
  const p = view.panel;
  if (p === undefined) return;
  if (!p || typeof p !== 'object')
    throw new InvalidArgumentError(`inspector view '${view.machine}': panel must be an object`);
  if (typeof p.id !== 'string' || !ID_RE.test(p.id))
    throw new InvalidArgumentError(
      `inspector view '${view.machine}': panel.id must be 1 to 60 letters, digits, '_' or '-'`,
    );
  if (typeof p.title !== 'string' || !p.title.trim())
    throw new InvalidArgumentError(
      `inspector view '${view.machine}': panel.title must be a non-empty string`,
    );
  if (p.empty !== undefined && typeof p.empty !== 'string')
    throw new InvalidArgumentError(`inspector view '${view.machine}': panel.empty must be a string`);
  const c = p.card;
  if (c === undefined) return;
  if (!c || typeof c !== 'object')
    throw new InvalidArgumentError(`inspector view '${view.machine}': panel.card must be an object`);
  for (const name of ['title', 'status', 'progress', 'list'] as const) {
    if (c[name] !== undefined && typeof c[name] !== 'string')
      throw new InvalidArgumentError(
        `inspector view '${view.machine}': panel.card.${name} must be a field name`,
      );
  }
  if (c.fields !== undefined && (!Array.isArray(c.fields) || c.fields.some((f) => typeof f !== 'string')))
    throw new InvalidArgumentError(`inspector view '${view.machine}': panel.card.fields must be field names`);
}

/**
 * Register the view of one machine; returns a function that removes it. Registering the same view object again
 * is a no-op; a different view for a machine that already has one throws `InvalidArgumentError`.
 */
export function registerInspectorView<S extends object>(view: InspectorView<S>): () => void {
  const v = view as unknown as InspectorView<object>;
  checkView(v);
  const existing = views.get(v.machine);
  if (existing && existing !== v)
    throw new InvalidArgumentError(
      `machine '${v.machine}' already has an inspector view: call the function registerInspectorView returned first`,
    );
  if (!existing) {
    views.set(v.machine, v);
    version++;
  }
  return () => {
    if (views.get(v.machine) !== v) return;
    views.delete(v.machine);
    version++;
  };
}

/** The view registered for a machine id, if any. */
export function inspectorViewFor(machine: string): InspectorView<object> | undefined {
  return views.get(machine);
}

/** Every registered view, as the page receives it. */
export function inspectorViews(): InspectorViewInfo[] {
  return [...views.values()].map((v) =>
    v.panel ? { machine: v.machine, panel: v.panel } : { machine: v.machine },
  );
}

/** Changes each time a view is registered or removed (the inspector re-sends the list). */
export function inspectorViewsVersion(): number {
  return version;
}
