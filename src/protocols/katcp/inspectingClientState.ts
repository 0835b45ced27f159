/**
 * The state of an `InspectingClient` as its user sees it: katcp-python's four flags (`InspectingClientStateType`),
 * the five legal combinations S0..S4 (`STATES`), and the model changes a state callback gets, as sets of names.
 * The machine (`machines/katcp/inspectingClient.ts`) decides the state; this is only its value.
 */
import type { ClientState, ModelChanges } from '../../../machines/katcp/inspectingClient.js';

/** Model changes as the state callback gets them: sets of names, only the non-empty parts (upstream). */
export interface ModelChangeSets {
  requests?: { added: Set<string>; removed: Set<string> };
  sensors?: { added: Set<string>; removed: Set<string> };
}

/**
 * katcp-python's `InspectingClientStateType`: the four flags (only five combinations are legal: S0..S4) and its
 * `toString()`, e.g. `[connected !synced model_changed data_synced]`.
 */
export class InspectingClientState implements ClientState {
  readonly connected: boolean;
  readonly synced: boolean;
  readonly modelChanged: boolean;
  readonly dataSynced: boolean;
  constructor(state: ClientState) {
    this.connected = state.connected;
    this.synced = state.synced;
    this.modelChanged = state.modelChanged;
    this.dataSynced = state.dataSynced;
  }
  /** Whether `other` has the same four flags. */
  equals(other: ClientState): boolean {
    return (
      this.connected === other.connected &&
      this.synced === other.synced &&
      this.modelChanged === other.modelChanged &&
      this.dataSynced === other.dataSynced
    );
  }
  toString(): string {
    return stateText(this);
  }
}

/** katcp-python's `str(InspectingClientStateType)`: `[connected !synced model_changed data_synced]`. */
export function stateText(flags: ClientState): string {
  const w = (on: boolean, word: string) => (on ? word : `!${word}`);
  return `[${w(flags.connected, 'connected')} ${w(flags.synced, 'synced')} ${w(flags.modelChanged, 'model_changed')} ${w(flags.dataSynced, 'data_synced')}]`;
}

const state = (connected: boolean, synced: boolean, modelChanged: boolean, dataSynced: boolean) =>
  Object.freeze(new InspectingClientState({ connected, synced, modelChanged, dataSynced }));

/** The five legal states, katcp-python's `valid_states`. */
export const STATES = Object.freeze({
  /** S0: disconnected or stopped. */
  disconnected: state(false, false, false, false),
  /** S1: connected, inspecting. */
  inspecting: state(true, false, false, false),
  /** S2: inspected, model changes being delivered. */
  modelChanged: state(true, false, true, true),
  /** S3: inspected, no changes. */
  dataSynced: state(true, false, false, true),
  /** S4: synced. */
  synced: state(true, true, false, true),
});

/** The machine's model changes as sets (null when nothing changed). */
export function toSets(changes: ModelChanges | null | undefined): ModelChangeSets | null {
  if (!changes) return null;
  const out: ModelChangeSets = {};
  if (changes.requests) {
    out.requests = { added: new Set(changes.requests.added), removed: new Set(changes.requests.removed) };
  }
  if (changes.sensors) {
    out.sensors = { added: new Set(changes.sensors.added), removed: new Set(changes.sensors.removed) };
  }
  return out.requests || out.sensors ? out : null;
}
