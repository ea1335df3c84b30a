// parseTree: reads a whole EBML document (one buffer or an iterable of chunks) with EbmlReader into a
// tree of ElementNode objects with exact offsets, header sizes and sizes (for inspect --json and the
// writer's byte-identical round trips), plus the errors the reader reported.

import type { EbmlError } from './errors.js';
import {
  EbmlReader,
  type EbmlReaderHandler,
  type EbmlReaderOptions,
  type EbmlValue,
  type ElementHeader,
} from './reader.js';
import type { ElementType } from './schema.generated.js';

export interface ElementNode {
  id: number;
  /** Schema name, 'Unknown' for IDs not in the schema. */
  name: string;
  /** Schema type; 'binary' for unknown IDs. */
  type: ElementType;
  /** Absolute offset of the element's ID. */
  offset: number;
  /** ID + size vint bytes (the size vint width is headerSize - idLength(id)). */
  headerSize: number;
  /** Data size; -1 = unknown size. */
  size: number;
  /** Leaf value (binaries are views into the input). Absent for masters and skipped/invalid leaves. */
  value?: EbmlValue;
  /** Children of masters. */
  children?: ElementNode[];
  /** True when the master was closed early by damage or truncation. */
  damaged?: boolean;
}

export interface ParseTreeResult {
  elements: ElementNode[];
  errors: EbmlError[];
}

function nodeOf(el: ElementHeader): ElementNode {
  return {
    id: el.id,
    name: el.info?.name ?? 'Unknown',
    type: el.info?.type ?? 'binary',
    offset: el.offset,
    headerSize: el.headerSize,
    size: el.size,
  };
}

/** Parses `data` into element trees. Never throws on bad input: problems are in `errors`. */
export function parseTree(data: Uint8Array | Iterable<Uint8Array>, options?: EbmlReaderOptions): ParseTreeResult {
  const elements: ElementNode[] = [];
  const errors: EbmlError[] = [];
  const stack: ElementNode[] = [];
  const add = (n: ElementNode): void => {
    const top = stack[stack.length - 1];
    if (top) (top.children ??= []).push(n);
    else elements.push(n);
  };
  const handler: EbmlReaderHandler = {
    onMasterStart(el) {
      const n = nodeOf(el);
      n.children = [];
      add(n);
      stack.push(n);
    },
    onMasterEnd(_el, _end, damaged) {
      const n = stack.pop();
      if (n && damaged) n.damaged = true;
    },
    onValue(el, value) {
      const n = nodeOf(el);
      n.value = value;
      add(n);
    },
    onError(err) {
      errors.push(err);
    },
  };
  const opts: EbmlReaderOptions = { ...options };
  delete opts.streamBinariesLargerThan;
  const reader = new EbmlReader(handler, opts);
  if (data instanceof Uint8Array) reader.push(data);
  else for (const chunk of data) reader.push(chunk);
  reader.end();
  return { elements, errors };
}
