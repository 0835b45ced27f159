// Every machine of Orrery, by name: the source of the generated statecharts and of the transition-coverage check.
import { backgroundTaskMachine } from './backgroundTask.js';
import { lrcMachine } from './lrc.js';
import { statusMachine } from './status.js';
import { streamingTaskMachine } from './streamingTask.js';
import { supervisorMachine } from './supervisor.js';
import { timeoutIteratorMachine } from './timeoutIterator.js';

export const machines = {
  status: statusMachine,
  supervisor: supervisorMachine,
  backgroundTask: backgroundTaskMachine,
  timeoutIterator: timeoutIteratorMachine,
  streamingTask: streamingTaskMachine,
  lrc: lrcMachine,
} as const;
