// Turns every dashboard JSON into a TypeScript module that assigns it, as an
// object literal, to @grafana/schema's Dashboard type: tsc then checks every
// field's type and rejects fields the schema does not know (excess property
// checks apply to literals only, which is why the JSON is inlined).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(here, 'check', 'generated');
mkdirSync(out, { recursive: true });
for (const f of readdirSync(here).filter((f) => f.endsWith('.json') && !f.startsWith('package') && !f.startsWith('tsconfig'))) {
  const json = readFileSync(join(here, f), 'utf8');
  writeFileSync(join(out, f.replace('.json', '.ts')),
    `import type { Dashboard } from '@grafana/schema';\n\n` +
    // JSON holds enum values as plain strings: check them against the
    // enum's values (\`\${E}\` is the union of a string enum's literals).
    `type Json<T> = T extends string ? \`\${T}\` : T extends (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;\n\n` +
    `export const dashboard: Json<Dashboard> = ${json};\n`);
}
