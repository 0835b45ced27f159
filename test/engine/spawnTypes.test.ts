/** issue 8 item 7: the type-level test of system.spawn / system.get, compiled here by tsc. */
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

describe('spawn types', () => {
  it('issue 8 item 7: a missing or wrong input does not compile (spawnTypes.typecheck.ts has no unmet @ts-expect-error)', () => {
    const file = fileURLToPath(new URL('./spawnTypes.typecheck.ts', import.meta.url));
    const program = ts.createProgram([file], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => `${d.file?.fileName ?? ''}:${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(diagnostics).toEqual([]);
  }, 180_000);
});
