// The public-surface report: for each entry point in package.json "exports", the declarations
// of what it exports (as `tsc --emitDeclarationOnly` would write them, without comments), and
// of the package's own types those declarations use without the entry point exporting them.
//
//   node scripts/api-report.mjs --check    (npm run api:check, part of npm test) fails when api/ is out of date
//   node scripts/api-report.mjs --update   (npm run api:update) rewrites api/
//
// The declarations are emitted in memory (nothing is written to dist/), then read back by a
// second program, so the report shows what a user of the built package sees. A declaration
// marked `@internal` is left out of both, as tsconfig.build.json's `stripInternal` leaves it
// out of dist/; the second program must then still type-check, or a public declaration
// depends on a stripped one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const apiDir = join(root, 'api');
/** Where the emitted declarations live, in memory only; inside the repository so node_modules resolves. */
const virtualOut = join(root, '.api-report');

const mode = process.argv[2];
if (mode !== '--check' && mode !== '--update') {
  console.error('usage: node scripts/api-report.mjs --check | --update');
  process.exit(2);
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entries = Object.entries(pkg.exports).map(([subpath, target]) => {
  const types = target.types;
  if (!types.startsWith('./dist/')) throw new Error(`exports["${subpath}"].types must point into ./dist/, got ${types}`);
  return {
    specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
    file: join(apiDir, `${subpath === '.' ? pkg.name : subpath.slice(2)}.api.md`),
    declarations: join(virtualOut, types.slice('./dist/'.length)),
  };
});

const reports = buildReports();
let stale = 0;
for (const entry of entries) {
  const text = reports.get(entry);
  if (mode === '--update') {
    mkdirSync(apiDir, { recursive: true });
    writeFileSync(entry.file, text);
    console.log(`wrote ${entry.file.slice(root.length + 1)}`);
    continue;
  }
  const committed = existsSync(entry.file) ? readFileSync(entry.file, 'utf8') : '';
  if (committed === text) continue;
  stale++;
  console.error(`\nThe public surface of ${entry.specifier} differs from ${entry.file.slice(root.length + 1)}:`);
  console.error(diff(committed, text));
}
if (stale > 0) {
  console.error('\nIf the change is intended, run `npm run api:update` and commit api/ with it (reviewers read that diff).');
  process.exit(1);
}
if (mode === '--check') console.log(`api: ${entries.length} entry points match api/`);

function buildReports() {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: fail });
  if (config === undefined || config.errors.length > 0) fail(config?.errors[0]);
  if (config.options.stripInternal !== true) fail(undefined, 'tsconfig.build.json must set stripInternal: the report leaves @internal out as the build does');
  const emitOptions = { ...config.options, outDir: virtualOut, noEmit: false, declaration: true, emitDeclarationOnly: true, sourceMap: false, declarationMap: false };
  const emitted = new Map();
  const source = ts.createProgram(config.fileNames, emitOptions);
  const result = source.emit(undefined, (fileName, text) => emitted.set(resolve(fileName), text));
  const errors = [...ts.getPreEmitDiagnostics(source), ...result.diagnostics].filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) fail(errors[0]);

  // A second program over the emitted .d.ts files: what a user of the package compiles against.
  const options = { ...config.options, noEmit: true, declaration: false, types: ['node'] };
  const host = ts.createCompilerHost(options);
  const realFileExists = host.fileExists.bind(host);
  const realReadFile = host.readFile.bind(host);
  const realGetSourceFile = host.getSourceFile.bind(host);
  const inVirtualOut = (fileName) => resolve(fileName).startsWith(virtualOut + '/');
  host.fileExists = (fileName) => (inVirtualOut(fileName) ? emitted.has(resolve(fileName)) : realFileExists(fileName));
  const realDirectoryExists = host.directoryExists?.bind(host);
  host.directoryExists = (dir) =>
    resolve(dir) === virtualOut || inVirtualOut(dir)
      ? [...emitted.keys()].some((file) => file.startsWith(resolve(dir) + '/'))
      : (realDirectoryExists?.(dir) ?? true);
  const realRealpath = host.realpath?.bind(host);
  host.realpath = (path) => (inVirtualOut(path) ? path : (realRealpath?.(path) ?? path));
  host.readFile = (fileName) => (inVirtualOut(fileName) ? emitted.get(resolve(fileName)) : realReadFile(fileName));
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    if (!inVirtualOut(fileName)) return realGetSourceFile(fileName, languageVersion, ...rest);
    const text = emitted.get(resolve(fileName));
    return text === undefined ? undefined : ts.createSourceFile(fileName, text, languageVersion, true);
  };
  const program = ts.createProgram(entries.map((entry) => entry.declarations), options, host);
  const broken = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error && d.file !== undefined && inVirtualOut(d.file.fileName));
  if (broken.length > 0) fail(broken[0]);
  const checker = program.getTypeChecker();
  const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });

  const exportsOf = new Map();
  for (const entry of entries) {
    const sourceFile = program.getSourceFile(entry.declarations);
    if (sourceFile === undefined) throw new Error(`no declarations emitted for ${entry.specifier} (${entry.declarations})`);
    exportsOf.set(entry, checker.getExportsOfModule(checker.getSymbolAtLocation(sourceFile)).sort((a, b) => a.name.localeCompare(b.name, 'en')));
  }
  // What a user can import by name from some entry point of the package.
  const exported = new Set([...exportsOf.values()].flat().map(resolveAlias));

  const reports = new Map();
  for (const entry of entries) {
    const exports = exportsOf.get(entry);

    const sections = [];
    const reachable = new Map();
    const visit = (node) => collectReferences(node, checker, exported, reachable);
    for (const symbol of exports) {
      const target = resolveAlias(symbol);
      const declarations = target.declarations ?? [];
      const renamed = target.name !== symbol.name && target.name !== 'default' ? ` (declared as ${target.name})` : '';
      sections.push(`// ${symbol.name}${renamed}\n${declarations.map((d) => print(d)).join('\n')}`);
      declarations.forEach(visit);
    }
    // Reachable symbols can reach more: follow until none is new.
    const printed = new Set();
    const internal = [];
    for (let more = true; more; ) {
      more = false;
      for (const [symbol, name] of [...reachable].sort((a, b) => a[1].localeCompare(b[1], 'en'))) {
        if (printed.has(symbol)) continue;
        printed.add(symbol);
        more = true;
        internal.push(`// ${name}\n${(symbol.declarations ?? []).map((d) => print(d)).join('\n')}`);
        symbol.declarations?.forEach(visit);
      }
    }
    internal.sort();

    reports.set(
      entry,
      [
        `# API report: ${entry.specifier}`,
        '',
        'Generated by `npm run api:update`; `npm run api:check` (part of `npm test`) fails when the',
        'declarations below no longer match the build. A diff of this file is a change to the public surface.',
        '',
        '## Exported',
        '',
        '```ts',
        sections.join('\n\n'),
        '```',
        '',
        '## Used by the exports, not exported',
        '',
        internal.length === 0
          ? 'None.'
          : ['Users meet these through the declarations above but cannot import them from any entry point.', '', '```ts', internal.join('\n\n'), '```'].join('\n'),
        '',
      ].join('\n'),
    );
  }
  return reports;

  function resolveAlias(symbol) {
    return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  }

  function print(declaration) {
    // A variable's declaration reads better with its `declare const`.
    const node = ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration;
    return printer.printNode(ts.EmitHint.Unspecified, node, node.getSourceFile());
  }

  /** Records the package's own named types (classes, interfaces, aliases, enums, values used as `typeof`) that `node` uses. */
  function collectReferences(node, checker, exported, reachable) {
    const walk = (child) => {
      let name;
      if (ts.isTypeReferenceNode(child)) name = child.typeName;
      else if (ts.isExpressionWithTypeArguments(child)) name = child.expression;
      else if (ts.isTypeQueryNode(child)) name = child.exprName;
      else if (ts.isImportTypeNode(child)) name = child.qualifier;
      if (name !== undefined) {
        const found = checker.getSymbolAtLocation(name);
        const symbol = found === undefined ? undefined : resolveAlias(found);
        const declaration = symbol?.declarations?.[0];
        const ours = declaration !== undefined && inVirtualOut(declaration.getSourceFile().fileName);
        if (ours && !(symbol.flags & ts.SymbolFlags.TypeParameter) && !exported.has(symbol) && !reachable.has(symbol)) {
          reachable.set(symbol, symbol.name);
        }
      }
      ts.forEachChild(child, walk);
    };
    walk(node);
  }
}

function diff(before, after) {
  const dir = mkdtempSync(join(tmpdir(), 'api-report-'));
  try {
    writeFileSync(join(dir, 'committed'), before);
    writeFileSync(join(dir, 'generated'), after);
    const run = spawnSync('diff', ['-u', '--label', 'committed', '--label', 'generated', join(dir, 'committed'), join(dir, 'generated')], { encoding: 'utf8' });
    return run.stdout || '(diff unavailable; run `npm run api:update` and read `git diff api/`)';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function fail(diagnostic, message = 'unknown error') {
  const text = diagnostic === undefined ? message : ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  const where = diagnostic?.file ? `${diagnostic.file.fileName}: ` : '';
  console.error(`api-report: ${where}${text}`);
  process.exit(2);
}
