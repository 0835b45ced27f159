import type { InspectionEvent } from 'xstate';

/**
 * Inspectors attached to every Orrery system created after registration (for tooling such as the test suite's
 * transition-coverage recorder). Nothing is registered by default.
 */
export const globalInspectors = new Set<(event: InspectionEvent) => void>();

export function addGlobalInspector(fn: (event: InspectionEvent) => void): () => void {
  globalInspectors.add(fn);
  return () => void globalInspectors.delete(fn);
}
