/**
 * LRC test support: the reference SKA device of ska-tango-base's tests as a simulator, a way to let simulated
 * time pass, and `ScriptedPort`, a DevicePort wrapper that perturbs a real one (held, duplicated and reordered
 * events, lost events, late subscriptions, failures, replies of its own) and counts its open subscriptions.
 */

import type { AttributeEvent, DevicePort, Unsubscribe } from '../../../src/protocols/tango/port.js';
import {
  SkaDeviceSimulator,
  type SkaDeviceSimulatorOptions,
} from '../../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { ResultCode } from '../../../src/protocols/tango/wire.js';
import type { TestClock } from '../../../src/testing/testClock.js';

export function devError(desc: string) {
  return { reason: 'API_EventTimeout', desc, origin: 'ScriptedPort', severity: 'ERR' as const };
}

/** Let every pending promise chain run. */
export async function flush(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** Advance simulated time in `step` ms increments, flushing promises in between. */
export async function runFor(clock: TestClock, ms: number, step = 10): Promise<void> {
  await flush();
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await flush();
  }
}

/** The reference device of ska-tango-base's `test_base_device.py`, with 100 ms between progress steps. */
export function referenceDevice(
  options: Partial<SkaDeviceSimulatorOptions> & Pick<SkaDeviceSimulatorOptions, 'clock'>,
) {
  const powerCommand = (target: string) => ({
    validate: (d: SkaDeviceSimulator) =>
      d.state === target ? `Device is already in ${target} state.` : null,
    execute: async (task: import('../../../src/protocols/tango/sim/skaDeviceSimulator.js').SimulatedTask) => {
      task.inProgress();
      await task.sleep(100);
      task.progress(33);
      await task.sleep(100);
      task.progress(66);
      await task.sleep(100);
      task.device.state = target;
      const name = target === 'ON' ? 'On' : target === 'OFF' ? 'Off' : 'Standby';
      return [ResultCode.OK, `${name} command completed OK`];
    },
  });
  return new SkaDeviceSimulator({
    name: 'test/reference/1',
    state: 'OFF',
    epochMs: 1_636_437_568_000,
    ...options,
    commands: {
      On: powerCommand('ON'),
      Off: powerCommand('OFF'),
      Standby: powerCommand('STANDBY'),
      Reset: { isAllowed: (d) => d.state !== 'OFF', execute: () => [ResultCode.OK, 'Reset completed OK'] },
      SimulateCommandError: async () => {
        throw new Error('Command encountered unexpected error');
      },
      SimulateIsCmdAllowedError: {
        isCmdAllowed: () => {
          throw new Error('Error from is_cmd_allowed');
        },
        execute: () => [ResultCode.OK, 'never'],
      },
      ...options.commands,
    },
  });
}

export interface ScriptedPortOptions {
  /** Hold change events until `release()` (the first, current-value event of a subscription included). */
  hold?: boolean;
  /** Deliver every event twice. */
  duplicate?: boolean;
  /** Keep a copy of every event, to deliver again later with `echo()` (stale duplicates). */
  echo?: boolean;
  /** Resolve subscribe calls only after `releaseSubscriptions()`. */
  lateSubscription?: boolean;
  failAttributeList?: unknown;
  failSubscribe?: (attribute: string) => unknown;
  failReadResult?: unknown;
  /** Reply with this instead of running the command. */
  reply?: unknown;
  /** An error event as the first event of every subscription (Tango: the initial read failed). */
  errorOnSubscribe?: boolean;
  /** An error event to every open subscription while the command is being invoked. */
  errorDuringInvoke?: boolean;
  /** Events for which this is true are lost (never delivered). */
  drop?: (event: AttributeEvent) => boolean;
  /** Answer these commands here (a throw is a failure) instead of passing them to the device. */
  commands?: Record<string, (args: unknown) => unknown>;
}

/** A DevicePort in front of another, perturbing what passes through. */
export class ScriptedPort implements DevicePort {
  readonly name: string;
  open = 0;
  readonly #inner: DevicePort;
  readonly #held: [(e: AttributeEvent) => void, AttributeEvent][] = [];
  readonly #lateSubs: (() => void)[] = [];
  /** The open subscriptions' forwarders, with their attribute. */
  readonly #live = new Map<(e: AttributeEvent) => void, string>();
  readonly #echoes: [(e: AttributeEvent) => void, AttributeEvent][] = [];
  options: ScriptedPortOptions;

  constructor(inner: DevicePort, options: ScriptedPortOptions = {}) {
    this.#inner = inner;
    this.name = inner.name;
    this.options = options;
  }

  get heldCount(): number {
    return this.#held.length;
  }

  async attributeList(): Promise<readonly string[]> {
    if (this.options.failAttributeList) throw this.options.failAttributeList;
    return this.#inner.attributeList();
  }

  async readAttribute(attribute: string): Promise<unknown> {
    if (this.options.failReadResult && attribute === 'longRunningCommandResult')
      throw this.options.failReadResult;
    return this.#inner.readAttribute(attribute);
  }

  async commandInout(command: string, args?: unknown): Promise<unknown> {
    if (this.options.errorDuringInvoke)
      this.inject({ attribute: 'any', errors: [devError('during invoke')] });
    const own = this.options.commands?.[command];
    if (own) return own(args);
    if (this.options.reply !== undefined) return this.options.reply;
    return this.#inner.commandInout(command, args);
  }

  async subscribeChangeEvent(
    attribute: string,
    callback: (event: AttributeEvent) => void,
  ): Promise<Unsubscribe> {
    const failure = this.options.failSubscribe?.(attribute);
    if (failure) throw failure;
    if (this.options.lateSubscription) await new Promise<void>((r) => this.#lateSubs.push(r));
    let live = true;
    const forward = (e: AttributeEvent) => {
      if (!live || this.options.drop?.(e)) return;
      const times = this.options.duplicate ? 2 : 1;
      for (let i = 0; i < times; i++) {
        if (this.options.hold) this.#held.push([callback, e]);
        else this.#send(callback, e);
      }
    };
    if (this.options.errorOnSubscribe)
      callback({ attribute, errors: [devError(`subscribing ${attribute}`)] });
    const unsubscribe = await this.#inner.subscribeChangeEvent(attribute, forward);
    this.open++;
    this.#live.set(forward, attribute);
    return () => {
      if (!live) return;
      live = false;
      this.open--;
      this.#live.delete(forward);
      unsubscribe();
    };
  }

  /** Deliver the held events: all of them, or those `pick` chooses (in order), keeping the rest held. */
  release(pick?: (event: AttributeEvent, index: number) => boolean): void {
    const held = this.#held.splice(0);
    const keep: typeof held = [];
    held.forEach(([cb, e], i) => {
      if (!pick || pick(e, i)) this.#send(cb, e);
      else keep.push([cb, e]);
    });
    this.#held.unshift(...keep);
  }

  #send(cb: (e: AttributeEvent) => void, e: AttributeEvent): void {
    if (this.options.echo) this.#echoes.push([cb, e]);
    cb(e);
  }

  /** Deliver again, late, the kept copies that `pick` chooses (they are then forgotten). */
  echo(pick: (event: AttributeEvent) => boolean): void {
    for (const [cb, e] of this.#echoes.splice(0)) if (pick(e)) cb(e);
  }

  /** Send an event of our own (an error event, say) to every open subscription, or only to its attribute's. */
  inject(event: AttributeEvent, onlyItsAttribute = false): void {
    for (const [forward, attribute] of [...this.#live])
      if (!onlyItsAttribute || attribute === event.attribute) forward(event);
  }

  /** Let the late subscriptions complete. */
  releaseSubscriptions(): void {
    for (const r of this.#lateSubs.splice(0)) r();
  }
}
