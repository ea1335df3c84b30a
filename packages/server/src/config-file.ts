// `mkvserve --config FILE`: reads a YAML configuration file into a partial layer for the resolver
// (config.ts). YAML syntax errors and validation errors both name the file and the line, and the key
// path and what was expected, one line each.

import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { ConfigError, parseLayer } from './config.js';
import type { ConfigIssue, ConfigLayer } from './config.js';

/** Most bytes a config file may have (a config file is small; this bounds what is read). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Parses YAML text as a config layer; `origin` names the file in messages. Throws ConfigError. */
export function parseConfigText(text: string, origin: string): ConfigLayer {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return { path: pos ? `line ${pos.line}, column ${pos.col}` : 'YAML', message: e.message.split('\n')[0] };
    });
    throw new ConfigError(issues, origin);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const lineOf = (path: readonly (string | number)[]): string => {
    // The deepest node that exists on the path gives the line.
    for (let n = path.length; n > 0; n--) {
      const node: unknown = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return `line ${lines.linePos(node.range[0]).line}: `;
    }
    return '';
  };
  return parseLayer(raw === null ? {} : raw, {
    origin,
    describePath: (p) => `${lineOf(p)}${p.length === 0 ? '(top level)' : p.join('.')}`,
  });
}

/** Reads and parses a config file. Throws ConfigError (also for a file that cannot be read). */
export function loadConfigFile(path: string): ConfigLayer {
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_CONFIG_BYTES)
      throw new ConfigError([{ path, message: `a config file has at most ${MAX_CONFIG_BYTES} bytes` }]);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (err as Error).message;
    throw new ConfigError([{ path, message: `cannot read the config file: ${why}` }]);
  }
  return parseConfigText(text, path);
}
