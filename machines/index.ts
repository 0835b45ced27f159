// Every machine of Orrery, by name: the source of the generated statecharts and of the transition-coverage check.
import { supervisorMachine } from './supervisor.js';

export const machines = {
  supervisor: supervisorMachine,
} as const;
