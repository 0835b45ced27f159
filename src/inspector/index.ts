// The offline inspector and the statechart renderer shared with `npm run charts`.
export { layoutMachine, machineSvg, renderSvg, toMermaid } from './chart.js';
export { CHART_ID_RE, registerMachine } from './charts.js';
export {
  type CreateInspectorOptions,
  createInspector,
  type InspectorWithInspect,
} from './createInspector.js';
export { activePaths, type MachineChart, machineChart } from './graph.js';
export { createRedactor, isSensitiveKey, REDACTED, type Redactor } from './redact.js';
export { type Inspector, type InspectorOptions, type InspectorStats, startInspector } from './server.js';
export { bridgeToStately, type StatelyBridge, type StatelyBridgeOptions } from './statelyBridge.js';
export type { InspectedSystem } from './tracker.js';
export {
  type InspectorPanel,
  type InspectorView,
  type InspectorViewEventContext,
  type InspectorViewInfo,
  inspectorViews,
  registerInspectorView,
} from './views.js';
