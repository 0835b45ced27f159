/** issue 8 item 8: XState's log() inside a user machine is logged with that actor's own {actor, machine}. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { log, setup } from 'xstate';
import type { EngineEvent } from '../../src/engine/inspectionBus.js';
import { createSystem, type OrrerySystem } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

const shutter = setup({ types: { events: {} as { type: 'OPEN' } } }).createMachine({
  id: 'shutter',
  initial: 'closed',
  states: {
    closed: { on: { OPEN: { target: 'open', actions: log('opening') } } },
    open: { entry: log(() => ({ position: 'open' }), 'moved') },
  },
});

let system: OrrerySystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

function capture(): { lines: Record<string, any>[]; logger: never } {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) as never };
}

describe('actor logs', () => {
  it('issue 8 item 8: log() in a supervised machine carries its own actor and machine, not the root supervisor', () => {
    const { lines, logger } = capture();
    system = createSystem({ clock: new TestClock(), logger });
    system.supervisor('dome');
    system.spawn(shutter, { supervisor: 'dome', id: 'shutter-1' }).send({ type: 'OPEN' });
    expect(lines.find((l) => l.msg === 'opening')).toMatchObject({
      actor: 'shutter-1',
      machine: 'shutter',
      level: 30,
    });
    expect(lines.find((l) => l.msg?.startsWith('moved'))).toMatchObject({
      actor: 'shutter-1',
      machine: 'shutter',
      msg: 'moved {"position":"open"}',
    });
    expect(lines.filter((l) => l.actor === 'supervisor:root')).toEqual([]);
  });

  it('issue 8 item 8: a restarted incarnation and a detached actor log under their own names too', () => {
    const { lines, logger } = capture();
    system = createSystem({ clock: new TestClock(), logger });
    const handle = system.spawn(shutter, { supervisor: 'root', id: 'east' });
    system.root.restartChild('east');
    handle.send({ type: 'OPEN' });
    system.spawn(shutter, { id: 'west' }).send({ type: 'OPEN' });
    expect(lines.filter((l) => l.msg === 'opening').map((l) => [l.actor, l.machine])).toEqual([
      ['east', 'shutter'],
      ['west', 'shutter'],
    ]);
  });

  it('log() of a value neither JSON nor String() can write is logged as its description, and the actor runs on', () => {
    // a circular object with no prototype: JSON.stringify throws, and so did the String() fallback, out of the log
    // action, which crashed the actor (a detached one failed, a supervised one was restarted)
    const loop: Record<string, unknown> = Object.create(null);
    loop.self = loop;
    const logger = setup({}).createMachine({
      id: 'looper',
      initial: 'a',
      states: { a: { on: { GO: { actions: log(() => loop, 'value') } } } },
    });
    const { lines, logger: pinoLogger } = capture();
    system = createSystem({ clock: new TestClock(), logger: pinoLogger });
    const detached = system.spawn(logger, { id: 'detached' });
    const compiled = system.spawnCompiled(logger, { id: 'compiled' });
    system.spawn(logger, { supervisor: 'root', id: 'supervised' });
    for (const target of [detached, compiled, system.root.child('supervised')!]) target.send({ type: 'GO' });
    expect(detached.getSnapshot().status).toBe('active');
    expect(compiled.status).toBe('active');
    expect(system.root.restarts()).toEqual({});
    expect(lines.filter((l) => l.msg?.startsWith('value')).map((l) => [l.actor, l.msg])).toEqual([
      ['detached', 'value [object Object]'],
      ['compiled', 'value [object Object]'],
      ['supervised', 'value [object Object]'],
    ]);
  });

  it('a crash whose error pino cannot serialise is logged with the error as text, and the process lives on', () => {
    // an Error with an enumerable getter that throws: pino's err serializer reads it, and the throw inside XState's
    // emit / observer loops and the compiled runner's onError became an uncaught exception (the process ended)
    const hostile = new Error('lens cap on');
    Object.defineProperty(hostile, 'detail', {
      enumerable: true,
      get() {
        throw new Error('detail is not readable');
      },
    });
    const thrower = setup({
      actions: {
        boom: () => {
          throw hostile;
        },
      },
    }).createMachine({ id: 'thrower', initial: 'a', states: { a: { on: { GO: { actions: 'boom' } } } } });
    const { lines, logger } = capture();
    system = createSystem({ clock: new TestClock(), logger });
    const events: EngineEvent['type'][] = [];
    system.onEngineEvent((e) => events.push(e.type));
    system.spawn(thrower, { supervisor: 'root', id: 'supervised' }).send({ type: 'GO' });
    system.spawn(thrower, { id: 'detached' }).send({ type: 'GO' });
    system.spawnCompiled(thrower, { id: 'compiled' }).send({ type: 'GO' });
    const crashes = lines.filter((l) => l.msg === 'child crashed' || l.msg === 'actor crashed');
    expect(crashes.map((l) => [l.msg, l.child ?? l.actor])).toEqual([
      ['child crashed', 'supervised'],
      ['actor crashed', 'detached'],
      ['actor crashed', 'compiled'],
    ]);
    for (const line of crashes) {
      expect(line.err).toMatchObject({ type: 'Error', message: 'lens cap on' });
      expect(line.err.stack).toContain('lens cap on');
    }
    expect(lines.find((l) => l.msg === 'restarting children')?.err?.message).toBe('lens cap on');
    expect(events).toEqual([
      'actor.spawned',
      'child.exited',
      'child.restarted',
      'actor.failed',
      'actor.failed',
    ]);
  });
});
