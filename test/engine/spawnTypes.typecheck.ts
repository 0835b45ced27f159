/**
 * issue 8 item 7: compiled by tsc in test/engine/spawnTypes.test.ts (never run). Every `@ts-expect-error` must
 * be an error, so a missing or wrong `input` that compiles fails that test.
 */
import { setup } from 'xstate';
import type { OrrerySystem } from '../../src/index.js';

const needsInput = setup({
  types: { input: {} as { port: number }, context: {} as { port: number } },
}).createMachine({
  id: 'needsInput',
  context: ({ input }) => ({ port: input.port }),
});
const noInput = setup({ types: { events: {} as { type: 'GO' } } }).createMachine({ id: 'noInput' });

export function check(system: OrrerySystem): void {
  // @ts-expect-error the input is required
  system.spawn(needsInput);
  // @ts-expect-error the input is required
  system.spawn(needsInput, { supervisor: 'root' });
  // @ts-expect-error the input has the wrong type
  system.spawn(needsInput, { input: { port: 'eighty' } });
  const ok = system.spawn(needsInput, { input: { port: 80 }, supervisor: 'root' });
  const port: number = ok.getSnapshot().context.port;
  void port;

  const free = system.spawn(noInput);
  free.send({ type: 'GO' });
  // @ts-expect-error an event the machine does not take
  free.send({ type: 'STOP' });

  const got = system.get('x', needsInput);
  const maybe: number | undefined = got?.getSnapshot().context.port;
  void maybe;
  // @ts-expect-error the snapshot of a typed get has no such context field
  void got?.getSnapshot().context.missing;
}
