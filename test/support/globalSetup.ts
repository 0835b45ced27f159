import { rmSync } from 'node:fs';
import { TRANSITIONS_DIR } from './transitions.js';

// A fresh coverage record for every full run.
export default function setup(): void {
  rmSync(TRANSITIONS_DIR, { recursive: true, force: true });
}
