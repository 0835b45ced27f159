/** How the engine reports what supervisors emit: pino log lines and engine events on the inspection bus. */
import {
  childrenOf,
  type SupervisorActor,
  type SupervisorEmitted,
  supervisorNameOf,
} from '../../machines/core/supervisor.js';
import { toError } from '../errors.js';
import type { InspectionBus } from './inspectionBus.js';
import { type Logger, logSafely } from './logging.js';

/**
 * Log and relay every event the supervisor `ref` emits. A child supervisor that is respawned is a new actor:
 * `rehook` is called with it so its events are reported too.
 */
export function reportSupervisorEvents(
  ref: SupervisorActor,
  name: string,
  log: Logger,
  bus: InspectionBus,
  rehook: (child: SupervisorActor, name: string) => void,
): void {
  ref.on('*', (e: SupervisorEmitted) => {
    switch (e.type) {
      case 'child.exited':
        if (e.reason === 'crash')
          logSafely(log, 'warn', { child: e.id, err: toError(e.error) }, 'child crashed');
        else log.info({ child: e.id }, 'child exited');
        bus.emitEngineEvent({
          type: 'child.exited',
          supervisor: name,
          child: e.id,
          reason: e.reason,
          error: e.error,
        });
        break;
      case 'child.restarted':
        logSafely(
          log,
          'warn',
          {
            children: e.ids,
            trigger: e.trigger,
            delayMs: e.delayMs,
            err: e.error ? toError(e.error) : undefined,
          },
          'restarting children',
        );
        bus.emitEngineEvent({
          type: 'child.restarted',
          supervisor: name,
          children: e.ids,
          trigger: e.trigger,
          delayMs: e.delayMs,
        });
        break;
      case 'child.respawned': {
        for (const child of childrenOf(ref.getSnapshot())) {
          if (!child.isSupervisor || !child.ref || !e.ids.includes(child.id)) continue;
          const sup = child.ref as SupervisorActor;
          rehook(sup, supervisorNameOf(sup.getSnapshot()) ?? child.id);
        }
        break;
      }
      case 'child.refused':
        log.warn({ child: e.id, reason: e.reason }, 'child spec refused');
        break;
      case 'supervisor.escalated':
        logSafely(
          log,
          'error',
          { child: e.child, err: toError(e.error) },
          'restart intensity reached; escalating',
        );
        bus.emitEngineEvent({
          type: 'supervisor.escalated',
          supervisor: name,
          child: e.child,
          error: e.error,
        });
        break;
      default:
        log.debug(e, e.type);
    }
  });
}
