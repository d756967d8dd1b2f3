// Fails when a focused test (`it.only`, `describe.only`, `test.only`) would silence the rest of the suite.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const focused = /\b(?:it|test|describe)\.only\s*\(/;
const offenders = [];

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts') && focused.test(readFileSync(path, 'utf8'))) offenders.push(path);
  }
}

walk('test');
walk('examples');
if (offenders.length > 0) {
  console.error(`focused tests found (remove .only):\n  ${offenders.join('\n  ')}`);
  process.exit(1);
}
