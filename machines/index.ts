// Every machine of Orrery, by name: the source of the generated statecharts and of the transition-coverage check.
import { statusMachine } from './status.js';
import { supervisorMachine } from './supervisor.js';

export const machines = {
  status: statusMachine,
  supervisor: supervisorMachine,
} as const;
