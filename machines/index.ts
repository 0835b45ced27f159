// Every machine of Orrery, by name: the source of the generated statecharts and of the transition-coverage check.
import { channelMachine } from './ca/channel.js';
import { circuitMachine } from './ca/circuit.js';
import { nameServerLinkMachine } from './ca/nameServerLink.js';
import { subscriptionMachine } from './ca/subscription.js';
import { backgroundTaskMachine } from './core/backgroundTask.js';
import { statusMachine } from './core/status.js';
import { streamingTaskMachine } from './core/streamingTask.js';
import { supervisorMachine } from './core/supervisor.js';
import { timeoutIteratorMachine } from './core/timeoutIterator.js';
import { katcpConnectionMachine } from './katcp/connection.js';
import { inspectingClientMachine } from './katcp/inspectingClient.js';
import { eventSubscriptionMachine } from './tango/eventSubscription.js';
import { giopConnectionMachine } from './tango/giopConnection.js';
import { lrcMachine } from './tango/lrc.js';

export const machines = {
  status: statusMachine,
  supervisor: supervisorMachine,
  backgroundTask: backgroundTaskMachine,
  timeoutIterator: timeoutIteratorMachine,
  streamingTask: streamingTaskMachine,
  lrc: lrcMachine,
  giopConnection: giopConnectionMachine,
  tangoEventSubscription: eventSubscriptionMachine,
  katcpConnection: katcpConnectionMachine,
  inspectingClient: inspectingClientMachine,
  caCircuit: circuitMachine,
  caChannel: channelMachine,
  caSubscription: subscriptionMachine,
  caNameServerLink: nameServerLinkMachine,
} as const;
