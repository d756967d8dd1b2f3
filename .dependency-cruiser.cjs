// Layer rules: nest -> rpc -> core, never back; inside rpc, client and server each build on wire
// (and the shared rpc root) and never on each other; no circular imports anywhere in src.
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
    {
      name: 'rpc-wire-stays-below-the-sides',
      severity: 'error',
      comment: 'src/rpc/wire is the format both sides share: it knows neither the client nor the server.',
      from: { path: '^src/rpc/wire' },
      to: { path: '^src/rpc/(client|server)/' },
    },
    {
      name: 'rpc-client-does-not-import-server',
      severity: 'error',
      comment: 'The two sides of the rpc layer meet only on the wire.',
      from: { path: '^src/rpc/client/' },
      to: { path: '^src/rpc/server/' },
    },
    {
      name: 'rpc-server-does-not-import-client',
      severity: 'error',
      comment: 'The two sides of the rpc layer meet only on the wire.',
      from: { path: '^src/rpc/server/' },
      to: { path: '^src/rpc/client/' },
    },
    {
      name: 'otel-is-opt-in',
      severity: 'error',
      comment: 'OpenTelemetry is an optional peer: only the nestjs-protosocket/otel entry point (src/otel) imports it, and nothing imports that entry point.',
      from: { pathNot: '^src/otel' },
      to: { path: ['@opentelemetry/', '^src/otel'] },
    },
    {
      name: 'otel-builds-on-the-channels',
      severity: 'error',
      comment: 'The telemetry sees the transport only through the diagnostics channels: no Nest layer, no NestJS.',
      from: { path: '^src/otel' },
      to: { path: ['^src/nest', '@nestjs/', 'node_modules/rxjs'] },
    },
    {
      name: 'terminus-is-opt-in',
      severity: 'error',
      comment: '@nestjs/terminus is an optional peer: only the nestjs-protosocket/health entry point (src/nest/health) imports it, and nothing imports that entry point.',
      from: { pathNot: '^src/nest/health' },
      to: { path: ['@nestjs/terminus', '^src/nest/health'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
