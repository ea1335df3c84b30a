#!/usr/bin/env node
// Entry point of the `mkvserve` command: the compiled CLI lives in ../dist (built by `pnpm install`).
import { main } from '../dist/cli.js';
main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`mkvserve: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
