/** issue 8 item 8: XState's log() inside a user machine is logged with that actor's own {actor, machine}. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { log, setup } from 'xstate';
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
});
