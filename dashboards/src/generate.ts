// Writes every dashboard as JSON beside this project's package.json, and
// copies the rules and dashboards into the Helm chart, so that one command
// regenerates everything derived. CI runs it and fails on any difference.
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { all } from './dashboards.js';

const here = dirname(dirname(fileURLToPath(import.meta.url))); // dashboards/
const root = dirname(here);
// GENERATE_OUT writes everything under another folder instead (the Go test
// compares that with the committed files).
const out = process.env.GENERATE_OUT;
const dashboardsOut = out ? join(out, 'dashboards') : here;
const chartFiles = out ? join(out, 'chart') : join(root, 'deploy', 'helm', 'smartassist-exporter', 'files');
mkdirSync(dashboardsOut, { recursive: true });

mkdirSync(join(chartFiles, 'dashboards'), { recursive: true });
mkdirSync(join(chartFiles, 'rules'), { recursive: true });
// The SDK gives every variable the interval-variable fields auto, auto_min
// and auto_count; Grafana's schema has them for interval variables only.
function tidy(d: any): any {
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'interval') {
      delete v.auto;
      delete v.auto_min;
      delete v.auto_count;
    }
  }
  return d;
}

for (const [file, build] of Object.entries(all)) {
  const json = JSON.stringify(tidy(build().build()), null, 2) + '\n';
  writeFileSync(join(dashboardsOut, file), json);
  writeFileSync(join(chartFiles, 'dashboards', file), json);
}
const rulesDir = join(root, 'deploy', 'prometheus');
for (const f of readdirSync(rulesDir).filter((f) => f.endsWith('.yml'))) {
  copyFileSync(join(rulesDir, f), join(chartFiles, 'rules', f));
}
console.log(`wrote ${Object.keys(all).length} dashboards and copied the rules into the chart`);
