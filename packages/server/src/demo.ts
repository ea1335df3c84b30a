// The built-in demo clip (assets/demo.webm: 10 s VP8 + Opus, 1 s GOP), served looped and paced
// when `mkvserve` runs with no input and stdin is a terminal.

import { fileURLToPath } from 'node:url';

/** Absolute path of the demo clip shipped with the package (works from src/ and dist/). */
export function demoPath(): string {
  return fileURLToPath(new URL('../assets/demo.webm', import.meta.url));
}
