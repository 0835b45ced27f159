/**
 * What the inspector shows of an SKA Long Running Command actor (machine id 'lrc'): command, status, progress,
 * result and outcome. Status and outcome come from the machine's context; progress and result only travel in the
 * DEVICE_EVENTs the actor receives, so they are decoded from those (at flush time, off the engine's call stack).
 *
 * Importing this module registers the view (`lrcInspectorView`) with the inspector's view registry; the LRC
 * facade imports it, so every process that runs an LRC shows it in the "Long running commands" panel.
 */
import type { Redactor } from '../../inspector/redact.js';
import { type InspectorView, registerInspectorView } from '../../inspector/views.js';
import { decodeLrcEvent, taskStatusName } from './wire.js';

export interface LrcSummary {
  command?: string;
  commandId?: string | null;
  status?: string | null;
  progress?: number | string;
  result?: unknown;
  outcome?: string | null;
  error?: string | null;
}

interface LrcContextLike {
  command?: unknown;
  commandId?: unknown;
  status?: unknown;
  outcome?: unknown;
  error?: unknown;
}

/** Fold the machine's context into the summary (the error's message passes `redact`: it may quote a secret). */
export function lrcFromContext(summary: LrcSummary, context: unknown, redact: Redactor): LrcSummary {
  const c = (context ?? {}) as LrcContextLike;
  const next: LrcSummary = { ...summary };
  if (typeof c.command === 'string') next.command = c.command;
  if (typeof c.commandId === 'string' || c.commandId === null) next.commandId = c.commandId as string | null;
  if (typeof c.status === 'number') next.status = taskStatusName(c.status as never) ?? String(c.status);
  if (typeof c.outcome === 'string' || c.outcome === null) next.outcome = c.outcome as string | null;
  if (c.error instanceof Error)
    next.error = `${String(c.error.name)}: ${String(redact(String(c.error.message)))}`;
  return next;
}

/** Fold one DEVICE_EVENT into the summary; returns undefined when it says nothing about this command. */
export function lrcFromDeviceEvent(
  summary: LrcSummary,
  event: { event?: { attribute?: unknown; value?: unknown } },
  commandId: unknown,
  redact: Redactor,
): LrcSummary | undefined {
  const e = event.event;
  if (!e || typeof e.attribute !== 'string' || typeof commandId !== 'string') return undefined;
  const decoded = decodeLrcEvent(e.attribute, e.value, commandId);
  if (!decoded) return undefined;
  const { progress, result, status } = decoded.update;
  const next: LrcSummary = { ...summary };
  if (progress !== undefined) next.progress = progress;
  if (result !== undefined) next.result = redact(result);
  if (typeof status === 'number') next.status = taskStatusName(status as never);
  return next;
}

/** The LRC's inspector view: the summary above, drawn as a card per command in its own panel. */
export const lrcInspectorView: InspectorView<LrcSummary> = {
  machine: 'lrc',
  summarise: (context, previous, redact) => lrcFromContext(previous ?? {}, context, redact),
  onEvent: (type, event, { context, summary, redact }) =>
    type === 'DEVICE_EVENT'
      ? lrcFromDeviceEvent(
          summary ?? {},
          event as { event?: { attribute?: unknown; value?: unknown } },
          (context as { commandId?: unknown } | undefined)?.commandId,
          redact,
        )
      : undefined,
  panel: {
    id: 'lrcs',
    title: 'Long running commands',
    empty: 'no LRC yet',
    card: {
      title: 'command',
      status: 'status',
      progress: 'progress',
      fields: ['outcome', 'result', 'error'],
    },
  },
};

registerInspectorView(lrcInspectorView);
