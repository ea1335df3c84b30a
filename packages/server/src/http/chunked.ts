// Incremental decoder of HTTP/1.1 chunked transfer coding (RFC 9112 section 7.1) for request bodies:
// fed the socket's reads as they come, it hands out the chunk data as views of them (no copy) and keeps
// its place across reads, so a chunk-size line or a CRLF may be split anywhere. Everything is bounded: a
// chunk-size line (with its extensions) and the trailer section have byte limits, a chunk size has at
// most 13 hex digits (below 2^53). Pure: no Node APIs, no I/O.

/** Protocol bounds of the chunked decoder (not operator settings): a chunk-size line, and all trailers. */
const MAX_CHUNK_LINE_BYTES = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

export interface ChunkedLimits {
  /** Longest chunk-size line, extensions included, CRLF excluded (default 4096). */
  maxLineBytes?: number;
  /** Largest trailer section, CRLFs included (default 16 KiB). */
  maxTrailerBytes?: number;
}

/** Malformed chunked coding. `offset`: position of the offending byte, counted from the body's first byte. */
export class ChunkedError extends Error {
  readonly offset: number;
  constructor(offset: number, message: string) {
    super(`${message} at body byte ${offset}`);
    this.name = 'ChunkedError';
    this.offset = offset;
  }
}

const enum S {
  Size, // hex digits of the chunk size
  Ext, // chunk extensions (or whitespace) up to CR
  SizeLf, // LF after the size line's CR
  Data,
  DataCr,
  DataLf,
  TrailerStart, // start of a trailer line, or of the final CRLF
  TrailerLine,
  TrailerLf,
  EndLf, // LF of the final CRLF
  Done,
}

const CR = 0x0d;
const LF = 0x0a;
const MAX_HEX_DIGITS = 13;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

export class ChunkedDecoder {
  /** Bytes of coded body consumed so far. */
  offset = 0;
  /** Decoded bytes handed out so far. */
  decoded = 0;
  /** Trailer fields (lower-case names) once the last chunk was read; repeated fields joined with ', '. */
  readonly trailers = new Map<string, string>();
  private state = S.Size;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  private remaining = 0;
  private trailerBytes = 0;
  private trailerLine = '';
  private readonly maxLineBytes: number;
  private readonly maxTrailerBytes: number;

  constructor(limits: ChunkedLimits = {}) {
    this.maxLineBytes = limits.maxLineBytes ?? MAX_CHUNK_LINE_BYTES;
    this.maxTrailerBytes = limits.maxTrailerBytes ?? MAX_TRAILER_BYTES;
  }

  /** True once the last chunk and the trailer section were read. */
  get done(): boolean {
    return this.state === S.Done;
  }

  /**
   * Decodes `chunk`, calling `onData` with each piece of chunk data (a view of `chunk`). Returns how many
   * bytes of `chunk` belong to the body: less than its length when the body ended inside it (the rest is
   * whatever the client sent after it). Throws ChunkedError on malformed coding.
   */
  push(chunk: Uint8Array, onData: (part: Uint8Array) => void): number {
    const n = chunk.length;
    let i = 0;
    while (i < n && this.state !== S.Done) {
      if (this.state === S.Data) {
        const take = Math.min(this.remaining, n - i);
        onData(chunk.subarray(i, i + take));
        i += take;
        this.offset += take;
        this.decoded += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = S.DataCr;
        continue;
      }
      this.step(chunk[i]);
      i++;
      this.offset++;
    }
    return i;
  }

  /** One byte outside chunk data. */
  private step(c: number): void {
    switch (this.state) {
      case S.Size: {
        const v = hexValue(c);
        if (v >= 0) {
          if (++this.digits > MAX_HEX_DIGITS) this.fail(`chunk size longer than ${MAX_HEX_DIGITS} hex digits`);
          this.size = this.size * 16 + v;
          this.countLine();
        } else if (this.digits === 0) this.fail('chunk size expected (hex digits)');
        else if (c === CR) this.state = S.SizeLf;
        else if (c === 0x3b /* ; */ || c === 0x20 || c === 0x09) {
          this.state = S.Ext;
          this.countLine();
        } else this.fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')} in a chunk-size line`);
        return;
      }
      case S.Ext:
        if (c === CR) this.state = S.SizeLf;
        else if (c === LF || c === 0) this.fail('bare LF or NUL in a chunk extension');
        else this.countLine();
        return;
      case S.SizeLf:
        if (c !== LF) this.fail('CR not followed by LF after a chunk size');
        this.lineBytes = 0;
        this.digits = 0;
        if (this.size === 0) this.state = S.TrailerStart;
        else {
          this.remaining = this.size;
          this.state = S.Data;
        }
        this.size = 0;
        return;
      case S.DataCr:
        if (c !== CR) this.fail('chunk data longer than its size (CRLF expected)');
        this.state = S.DataLf;
        return;
      case S.DataLf:
        if (c !== LF) this.fail('CR not followed by LF after chunk data');
        this.state = S.Size;
        return;
      case S.TrailerStart:
        this.countTrailer();
        if (c === CR) this.state = S.EndLf;
        else {
          this.trailerLine = String.fromCharCode(c);
          this.state = S.TrailerLine;
        }
        return;
      case S.TrailerLine:
        this.countTrailer();
        if (c === CR) this.state = S.TrailerLf;
        else if (c === LF || c === 0) this.fail('bare LF or NUL in a trailer field');
        else this.trailerLine += String.fromCharCode(c);
        return;
      case S.TrailerLf:
        this.countTrailer();
        if (c !== LF) this.fail('CR not followed by LF in the trailer section');
        this.addTrailer(this.trailerLine);
        this.trailerLine = '';
        this.state = S.TrailerStart;
        return;
      case S.EndLf:
        if (c !== LF) this.fail('CR not followed by LF at the end of the chunked body');
        this.state = S.Done;
        return;
      default:
        return;
    }
  }

  private countLine(): void {
    if (++this.lineBytes > this.maxLineBytes) this.fail(`chunk-size line longer than ${this.maxLineBytes} bytes`);
  }

  private countTrailer(): void {
    if (++this.trailerBytes > this.maxTrailerBytes)
      this.fail(`trailer section larger than ${this.maxTrailerBytes} bytes`);
  }

  private addTrailer(line: string): void {
    const colon = line.indexOf(':');
    if (colon <= 0 || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(line.slice(0, colon)))
      this.fail('malformed trailer field');
    const key = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = this.trailers.get(key);
    this.trailers.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }

  private fail(message: string): never {
    throw new ChunkedError(this.offset, message);
  }
}
