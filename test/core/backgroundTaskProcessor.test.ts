/**
 * PST BackgroundTaskProcessor and the `background_task` decorator (no upstream tests exist for either): tasks are
 * reaped when their actor completes (no 10 Hz reaper), the decorator returns the submitted task.
 */
import { describe, expect, it } from 'vitest';
import {
  BackgroundTask,
  BackgroundTaskProcessor,
  backgroundTask,
  InvalidStateError,
  RunState,
} from '../../src/index.js';
import { flush } from '../support/simulatedTime.js';
import { captureLogs, controlled } from '../support/taskFixtures.js';
import { useTestSystem } from '../support/testSystem.js';

const sim = useTestSystem();

describe('BackgroundTaskProcessor', () => {
  it('submitTask runs the task and returns it; finished tasks are reaped when they complete, without polling', async () => {
    const s = sim.start();
    const processor = new BackgroundTaskProcessor({ system: s });
    const { action, calls } = controlled();
    const oneShot = processor.submitTask(action);
    const periodic = processor.submitTask(() => {}, { frequency: 10 });
    expect(oneShot.running()).toBe(true);
    expect(processor.tasks).toEqual([oneShot, periodic]);
    await flush();
    calls[0].resolve();
    await oneShot.done;
    expect(processor.tasks).toEqual([periodic]);
    await processor.stop();
    expect(processor.tasks).toEqual([]);
    expect(periodic.state).toBe(RunState.STOPPED);
    expect(sim.clock.pending).toBe(0);
  });

  it('a submission to a stopped system throws and leaves no task behind', async () => {
    const s = sim.start();
    const processor = new BackgroundTaskProcessor({ system: s });
    await s.stop();
    expect(() => processor.submitTask(() => {})).toThrow('the actor system has been stopped');
    expect(processor.tasks).toEqual([]);
  });

  it('uses its default logger unless the submission brings one', async () => {
    const fallback = captureLogs();
    const own = captureLogs();
    const processor = new BackgroundTaskProcessor({ system: sim.start(), logger: fallback.logger });
    const a = processor.submitTask(() => Promise.reject(new Error('a')));
    const b = processor.submitTask(() => Promise.reject(new Error('b')), { logger: own.logger });
    await Promise.all([a.done, b.done]);
    expect(fallback.lines.map((l) => l.err.message)).toEqual(['a']);
    expect(own.lines.map((l) => l.err.message)).toEqual(['b']);
    await processor[Symbol.asyncDispose]();
  });
});

describe('@backgroundTask decorator', () => {
  // Vite 8's oxc transform does not lower TC39 decorators, so `@backgroundTask` cannot appear in a test file; the
  // decorator is applied here the way tsc's emit applies it (a method decorator gets the method and a context).
  class Beam {
    backgroundTaskProcessor: BackgroundTaskProcessor | undefined;
    configured: unknown[] = [];
    constructor(processor?: BackgroundTaskProcessor) {
      this.backgroundTaskProcessor = processor;
    }
    configureBeam(id: number, scan: string): void | BackgroundTask {
      this.configured.push([id, scan]);
    }
    async failing(): Promise<void> {
      throw new Error('configure failed');
    }
  }
  for (const name of ['configureBeam', 'failing'] as const) {
    const context = {
      kind: 'method',
      name,
      static: false,
      private: false,
    } as ClassMethodDecoratorContext<Beam>;
    (Beam.prototype as any)[name] = backgroundTask(Beam.prototype[name] as any, context as any);
  }

  it('a call submits the method to this.backgroundTaskProcessor and returns the task', async () => {
    const processor = new BackgroundTaskProcessor({ system: sim.start() });
    const beam = new Beam(processor);
    const task = beam.configureBeam(1, 'scan-a');
    expect(task).toBeInstanceOf(BackgroundTask);
    expect(beam.configured).toEqual([]); // not run synchronously
    await (task as BackgroundTask).done;
    expect(beam.configured).toEqual([[1, 'scan-a']]);
    expect(processor.tasks).toEqual([]);
  });

  it('the method error ends its task ERRORED', async () => {
    const beam = new Beam(new BackgroundTaskProcessor({ system: sim.start() }));
    const task = beam.failing() as unknown as BackgroundTask;
    await task.done;
    expect(task.exception()?.message).toBe('configure failed');
  });

  it('a missing processor throws InvalidStateError', () => {
    expect(() => new Beam().configureBeam(1, 'x')).toThrow(InvalidStateError);
    expect(() => new Beam().configureBeam(1, 'x')).toThrow(
      "@backgroundTask method 'configureBeam' needs this.backgroundTaskProcessor to be a BackgroundTaskProcessor",
    );
  });
});
