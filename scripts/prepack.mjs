// The "prepack" script of each workspace package (run by `pnpm pack` and `pnpm publish`): builds the
// package so that the tarball's dist/ is current, after refusing npm when the package depends on
// another workspace package. `npm pack` / `npm publish` keep `workspace:*` ranges, which no registry can
// resolve; pnpm rewrites them to the real versions.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const deps = { ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies };
const workspaceDeps = Object.entries(deps).filter(([, range]) => String(range).startsWith('workspace:'));
const agent = process.env.npm_config_user_agent ?? '';
if (workspaceDeps.length > 0 && !agent.startsWith('pnpm/')) {
  process.stderr.write(
    `${pkg.name}: pack it with pnpm (\`pnpm pack\`, or \`pnpm publish -r\` from the repository root): ` +
      `npm would keep ${workspaceDeps.map(([n, r]) => `${n}@${r}`).join(', ')}, which no registry can resolve.\n`,
  );
  process.exit(1);
}
const tsc = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-b'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
