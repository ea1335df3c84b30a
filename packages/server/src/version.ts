// The package version, read once, synchronously (no top-level await: `require('mkvserve')` must work).
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The version in package.json (src/ and dist/ both sit one level below it), '0.0.0' if unreadable. */
export function packageVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
      cached = pkg.version ?? '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
