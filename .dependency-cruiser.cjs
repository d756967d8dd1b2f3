// Layer rules: nest -> rpc -> core, never back; no circular imports anywhere in src.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Circular imports make initialisation order fragile.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-stays-low',
      severity: 'error',
      comment: 'src/core is usable on its own: no rpc, nest, NestJS or rxjs.',
      from: { path: '^src/core' },
      to: { path: ['^src/(rpc|nest)', '@nestjs/', 'node_modules/rxjs'] },
    },
    {
      name: 'rpc-stays-below-nest',
      severity: 'error',
      comment: 'src/rpc builds on core only: no nest layer, no NestJS, no rxjs.',
      from: { path: '^src/rpc' },
      to: { path: ['^src/nest', '@nestjs/', 'node_modules/rxjs'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
