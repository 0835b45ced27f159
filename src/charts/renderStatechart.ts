/**
 * The statechart renderer as a public function: draws any XState v5 machine (yours or Orrery's) as SVG or as
 * Mermaid `stateDiagram-v2` source, with the same code that draws `visualizations/*.svg` and the inspector's
 * `/charts/<id>.svg`. Output is deterministic: the same machine definition always gives the same text.
 *
 * @example
 * ```ts
 * import { renderStatechart } from 'orrery';
 * import { writeFile } from 'node:fs/promises';
 * await writeFile('shutter.svg', await renderStatechart(shutterMachine));
 * await writeFile('shutter.mmd', await renderStatechart(shutterMachine, { format: 'mmd' }));
 * ```
 */
import type { AnyStateMachine } from 'xstate';
import { InvalidArgumentError } from '../errors.js';
import { machineSvg, toMermaid } from '../inspector/chart.js';

/** `'svg'`: an SVG document (elkjs layout, no browser needed); `'mmd'`: Mermaid `stateDiagram-v2` source. */
export type StatechartFormat = 'svg' | 'mmd';

export interface RenderStatechartOptions {
  /** Output format; `'svg'` when omitted. */
  format?: StatechartFormat;
}

export const statechartFormats: readonly StatechartFormat[] = ['svg', 'mmd'];

/**
 * Whether `value` looks like an XState v5 machine (from `createMachine` or `setup(...).createMachine`). Checked by
 * shape, not `instanceof`, so a machine built with the user's own copy of xstate is recognised too.
 */
export function isStateMachine(value: unknown): value is AnyStateMachine {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.getInitialSnapshot === 'function' &&
    typeof m.transition === 'function' &&
    typeof m.root === 'object' &&
    m.root !== null &&
    typeof m.config === 'object'
  );
}

/**
 * Renders `machine`'s statechart as SVG (default) or Mermaid source. Throws `InvalidArgumentError` when `machine`
 * is not an XState machine or `format` is not `'svg'` or `'mmd'`.
 */
export async function renderStatechart(
  machine: AnyStateMachine,
  options: RenderStatechartOptions = {},
): Promise<string> {
  if (!isStateMachine(machine)) {
    throw new InvalidArgumentError(
      `renderStatechart: expected an XState machine (from createMachine or setup().createMachine), got ${describe(machine)}`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`renderStatechart: options must be an object, got ${describe(options)}`);
  }
  const format = options.format ?? 'svg';
  if (!statechartFormats.includes(format)) {
    throw new InvalidArgumentError(
      `renderStatechart: format must be 'svg' or 'mmd', got ${describe(format)}`,
    );
  }
  return format === 'svg' ? machineSvg(machine) : toMermaid(machine);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object that is not a machine';
  return String(value);
}
