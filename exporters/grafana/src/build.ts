// Writes every dashboard to dashboards/NAME.json; with --check, only compares and exits 1 if a
// committed file differs from what the code says (so the JSON in git is always the typed one).
import * as fs from 'fs';
import * as path from 'path';
import { overview } from './overview';

const dashboards: Record<string, unknown> = { 'qsm-overview': overview };
const check = process.argv.includes('--check');
let stale = 0;
for (const [name, dashboard] of Object.entries(dashboards)) {
  const file = path.join(__dirname, '..', 'dashboards', `${name}.json`);
  const text = JSON.stringify(dashboard, null, 2) + '\n';
  if (check) {
    const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (committed !== text) {
      console.error(`${file}: differs from src/ (run: npm run build, then commit)`);
      stale++;
    } else {
      console.log(`${file}: matches the typed source`);
    }
  } else {
    fs.writeFileSync(file, text);
    console.log(`wrote ${file}`);
  }
}
process.exit(stale > 0 ? 1 : 0);
