/**
 * Orrery's import rules (issue 8 item 4), checked in CI by `npm run deps:check`
 * (`depcruise src machines --config .dependency-cruiser.cjs`). test/engine/depRules.test.ts proves each rule
 * catches a violation on a small fixture tree.
 *
 * - machines/ are pure XState definitions: they import xstate, src/errors.ts, other machines, and the pure
 *   modules of a protocol (wire.ts, codec.ts, errors.ts; its port.ts for types only), and nothing else. (The one
 *   duration validator is machines/core/duration.ts, so machines and facades share it without an exception.)
 * - the engine, the facades in src/api and the core machines never import a protocol.
 * - a protocol never imports another protocol; the inspector never imports a protocol (protocols register their
 *   views with it instead).
 * - src/engine has no import circle.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'machines-are-pure',
      comment:
        'machines/ import only xstate, src/errors.ts, other machines and pure protocol modules (wire, codec, errors; port for types)',
      severity: 'error',
      from: { path: '^machines/' },
      to: {
        pathNot: [
          '^machines/',
          '^src/errors\\.ts$',
          '^src/protocols/[^/]+/(wire|codec|errors)\\.ts$',
          '(^|/)node_modules/xstate/',
        ],
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'machines-types-are-pure',
      comment: 'type-only imports of machines/ may also name a protocol port (an interface), nothing else',
      severity: 'error',
      from: { path: '^machines/' },
      to: {
        dependencyTypes: ['type-only'],
        pathNot: [
          '^machines/',
          '^src/errors\\.ts$',
          '^src/protocols/[^/]+/(wire|codec|errors|port)\\.ts$',
          '(^|/)node_modules/xstate/',
        ],
      },
    },
    {
      name: 'core-never-imports-a-protocol',
      comment: 'src/engine, src/api and machines/core never import a protocol (src/protocols or its machines)',
      severity: 'error',
      from: { path: '^(src/engine|src/api|machines/core)/' },
      to: { path: '^(src/protocols/|machines/(?!core/|index\\.ts$)[^/]+/)' },
    },
    {
      name: 'protocols-are-independent',
      comment: 'a protocol never imports another protocol',
      severity: 'error',
      from: { path: '^src/protocols/([^/]+)/' },
      to: { path: '^src/protocols/', pathNot: '^src/protocols/$1/' },
    },
    {
      name: 'protocol-machines-are-independent',
      comment: "a protocol's machines never import another protocol's machines or modules",
      severity: 'error',
      from: { path: '^machines/([^/]+)/', pathNot: '^machines/core/' },
      to: { path: '^(machines|src/protocols)/([^/]+)/', pathNot: ['^machines/core/', '^(machines|src/protocols)/$1/'] },
    },
    {
      name: 'inspector-names-no-protocol',
      comment: 'src/inspector never imports a protocol (protocols register their views)',
      severity: 'error',
      from: { path: '^src/inspector/' },
      to: { path: '^(src/protocols/|machines/(?!core/|index\\.ts$)[^/]+/)' },
    },
    {
      name: 'no-engine-circles',
      comment: 'src/engine has no circular imports',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
