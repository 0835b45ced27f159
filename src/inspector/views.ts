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
const PANEL_FIELDS = ['id', 'title', 'empty', 'card'];
const CARD_FIELDS = ['title', 'status', 'progress', 'fields', 'list'];
/** Per machine: the view as registered, and the checked copy of its panel that the page is sent. */
const views = new Map<string, { view: InspectorView<object>; panel: InspectorPanel | undefined }>();
let version = 0;

/** Refuse an own field that is not one of `known` (`what` names the object in the error). */
function onlyKnown(machine: string, what: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      throw new InvalidArgumentError(
        `inspector view '${machine}': ${what}.${key.slice(0, 60)} is not a field (${known.join(', ')})`,
      );
  }
}

/**
 * The panel the page is sent, checked: a frozen copy of its known fields, each read once. Panels were sent as
 * registered, unknown fields included, so a BigInt or a cycle in one view's panel (or put there later) made
 * JSON.stringify throw for every snapshot and batch, and every page was closed: the copy is plain JSON for good.
 */
function checkPanel(machine: string, p: unknown): InspectorPanel | undefined {
  if (p === undefined) return undefined;
  if (!p || typeof p !== 'object')
    throw new InvalidArgumentError(`inspector view '${machine}': panel must be an object`);
  onlyKnown(machine, 'panel', p, PANEL_FIELDS);
  const { id, title, empty, card: c } = p as InspectorPanel;
  if (typeof id !== 'string' || !ID_RE.test(id))
    throw new InvalidArgumentError(
      `inspector view '${machine}': panel.id must be 1 to 60 letters, digits, '_' or '-'`,
    );
  if (typeof title !== 'string' || !title.trim())
    throw new InvalidArgumentError(`inspector view '${machine}': panel.title must be a non-empty string`);
  if (empty !== undefined && typeof empty !== 'string')
    throw new InvalidArgumentError(`inspector view '${machine}': panel.empty must be a string`);
  const panel: InspectorPanel = empty === undefined ? { id, title } : { id, title, empty };
  if (c === undefined) return Object.freeze(panel);
  if (!c || typeof c !== 'object')
    throw new InvalidArgumentError(`inspector view '${machine}': panel.card must be an object`);
  onlyKnown(machine, 'panel.card', c, CARD_FIELDS);
  const card: NonNullable<InspectorPanel['card']> = {};
  for (const name of ['title', 'status', 'progress', 'list'] as const) {
    const field = c[name];
    if (field === undefined) continue;
    if (typeof field !== 'string')
      throw new InvalidArgumentError(`inspector view '${machine}': panel.card.${name} must be a field name`);
    card[name] = field;
  }
  const fields = Array.isArray(c.fields) ? Array.from(c.fields) : c.fields;
  if (fields !== undefined) {
    if (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string'))
      throw new InvalidArgumentError(`inspector view '${machine}': panel.card.fields must be field names`);
    card.fields = Object.freeze(fields) as string[];
  }
  panel.card = Object.freeze(card);
  return Object.freeze(panel);
}

/** Check a view; returns its machine id and the checked copy of its panel. */
function checkView(view: InspectorView<object>): { machine: string; panel: InspectorPanel | undefined } {
  if (!view || typeof view !== 'object')
    throw new InvalidArgumentError('an inspector view must be an object');
  const machine = view.machine;
  if (typeof machine !== 'string' || !machine || machine.length > 100)
    throw new InvalidArgumentError('an inspector view needs `machine`: the machine id (1 to 100 characters)');
  for (const name of ['summarise', 'onEvent'] as const) {
    if (view[name] !== undefined && typeof view[name] !== 'function')
      throw new InvalidArgumentError(`inspector view '${machine}': ${name} must be a function`);
  }
  return { machine, panel: checkPanel(machine, view.panel) };
}

/**
 * Register the view of one machine; returns a function that removes it. Registering the same view object again
 * is a no-op; a different view for a machine that already has one throws `InvalidArgumentError`, and so does a
 * panel with a field that is not one of `InspectorPanel`'s. The panel is copied: changing it later changes nothing.
 */
export function registerInspectorView<S extends object>(view: InspectorView<S>): () => void {
  const v = view as unknown as InspectorView<object>;
  const { machine, panel } = checkView(v);
  const existing = views.get(machine);
  if (existing && existing.view !== v)
    throw new InvalidArgumentError(
      `machine '${machine}' already has an inspector view: call the function registerInspectorView returned first`,
    );
  if (!existing) {
    views.set(machine, { view: v, panel });
    version++;
  }
  return () => {
    if (views.get(machine)?.view !== v) return;
    views.delete(machine);
    version++;
  };
}

/** The view registered for a machine id, if any. */
export function inspectorViewFor(machine: string): InspectorView<object> | undefined {
  return views.get(machine)?.view;
}

/** The panel of the view registered for a machine id, as checked at registration (what the page is sent). */
export function inspectorPanelFor(machine: string): InspectorPanel | undefined {
  return views.get(machine)?.panel;
}

/** Every registered view, as the page receives it. */
export function inspectorViews(): InspectorViewInfo[] {
  return [...views.entries()].map(([machine, { panel }]) => (panel ? { machine, panel } : { machine }));
}

/** Changes each time a view is registered or removed (the inspector re-sends the list). */
export function inspectorViewsVersion(): number {
  return version;
}
