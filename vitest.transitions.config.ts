import { defineConfig } from 'vitest/config';

// Runs after the main suite: checks the transitions it recorded against every machine's declared transitions.
export default defineConfig({
  test: { include: ['test/coverage/*.check.ts'] },
});
