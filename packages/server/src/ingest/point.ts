// A mount's ingest point: where sources connect to a `push` mount (HTTP PUT/POST/SOURCE /<mount>) or a
// `tcp://HOST:PORT?listen` mount (plain TCP). It decides who may push (address allowlist, the mount's
// token for HTTP: Bearer, Basic with the token as the password, or `?token=` for clients that cannot
// send a header before their body), keeps ONE source at a time (a second is refused, 409 for HTTP, or
// takes over when the mount allows it), sniffs each new source's first bytes (415 with the format's
// name when it is not Matroska), and hands accepted sources to the mount's Source pump one after the
// other: the pump demuxes each, and a source with the same track layout as the last one is spliced in.
// Nothing of a body is read before its request was authorised. Secrets are never logged.

import type { Socket } from 'node:net';
import type { RequestHead } from '../http/parser.js';
import { acceptBody, refuseRequest } from '../http/body.js';
import { basicChallenge, credentialsMatch, isLoopbackHost, parseAuthorization } from '../http/auth.js';
import { clientAddress, clientPort, peerAddress } from '../http/client-address.js';
import type { Credentials } from '../http/auth.js';
import { InputError } from '../inputs/open.js';
import type { IngestInput, IngestOpener } from '../inputs/source.js';
import type { Logger } from '../log.js';
import type { IngestSnapshot, SourceSnapshot } from '../snapshot.js';
import { AddressAllowlist } from './allowlist.js';
import { BodyReader, SocketReader } from './readers.js';
import { SourceSession } from './session.js';
import type { SourceEnd } from './session.js';
import { TcpSourceListener } from './tcp-listener.js';
import type { TcpListenSpec } from './tcp-spec.js';

export interface IngestOptions {
  /** Mount name (messages). */
  mount: string;
  /** `push` (HTTP) or a parsed `tcp://HOST:PORT?listen`. */
  tcp: TcpListenSpec | undefined;
  /**
   * The mount's live settings, read each time they are used (a reload changes `token` and `takeover` in
   * place on the running mount): the source token (HTTP push; ignored for TCP, which has no place for
   * one) and whether a new source takes over.
   */
  live: { readonly token: string | undefined; readonly takeover: boolean };
  allowSources: readonly string[] | undefined;
  idleTimeoutMs: number;
  log: Logger;
}

/** Sources being sniffed at once, at most (takeover candidates); more get 503 / are closed. */
const MAX_CANDIDATES = 4;

/** Parses `Content-Range: bytes A-B/*` (or `/LENGTH`), as GStreamer's souphttpclientsink sends it. */
export function parseContentRange(v: string | undefined): { start: number; end: number } | 'invalid' | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*bytes\s+(\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)\s*$/i.exec(v);
  if (!m) return 'invalid';
  const start = Number(m[1]);
  const end = Number(m[2]);
  return end < start ? 'invalid' : { start, end };
}

/** `?token=...` of a request (for clients that cannot send Authorization before their body). */
function queryToken(query: string): Credentials | undefined {
  if (query === '' || !/(^|&)token=/.test(query)) return undefined;
  const t = new URLSearchParams(query).get('token');
  return t ? { scheme: 'bearer', token: t } : undefined;
}

function summary(s: SourceSession): SourceSnapshot {
  const o: SourceSnapshot = {
    id: s.id,
    protocol: s.info.protocol,
    address: s.info.address,
    port: s.info.port,
    since: s.since,
    bytes: s.bytes,
    requests: s.requests,
    state: s.state,
    end: s.end ?? null,
    endedAt: s.endedAt ?? null,
  };
  if (s.info.method !== undefined) o.method = s.info.method;
  if (s.info.userAgent !== undefined) o.userAgent = s.info.userAgent;
  return o;
}

export class IngestPoint implements IngestOpener {
  readonly mount: string;
  readonly protocol: 'http' | 'tcp';
  /** Sources accepted (sniffed as Matroska) over the mount's life. */
  sources = 0;
  /** Sources lost, timed out, taken over or unusable (not those that ended cleanly). */
  drops = 0;
  /** Connections and requests refused (address, token, busy, not Matroska, ...). */
  refused = 0;
  /** Bytes of the sources that ended. */
  bytesEnded = 0;
  private readonly live: IngestOptions['live'];
  private readonly allow: AddressAllowlist | undefined;
  private readonly idleTimeoutMs: number;
  private readonly log: Logger;
  private readonly tcp: TcpSourceListener | undefined;
  /** The source in place (sniffing, streaming, or between two PUTs of one stream). */
  private current: SourceSession | undefined;
  /** An accepted source the pump has not taken yet. */
  private ready: SourceSession | undefined;
  private waiter: { resolve(i: IngestInput): void; reject(e: Error): void } | undefined;
  private candidates = 0;
  private last: SourceSession | undefined;
  private announced = false;
  private closed = false;

  constructor(opts: IngestOptions) {
    this.mount = opts.mount;
    this.protocol = opts.tcp ? 'tcp' : 'http';
    this.live = opts.live;
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.log = opts.log;
    this.allow = opts.allowSources ? new AddressAllowlist(opts.allowSources) : undefined;
    if (opts.tcp) {
      this.tcp = new TcpSourceListener(opts.tcp, (s) => this.acceptTcp(s));
      if (opts.live.token !== undefined)
        this.log.warn('ingest_token_ignored', {
          reason: 'plain TCP has no place for a token: it is not checked (use allowSources, or input: push)',
        });
    }
  }

  /** The source token (HTTP push only), as configured now. */
  private get token(): string | undefined {
    return this.protocol === 'http' ? this.live.token : undefined;
  }

  /** Whether a new source takes over, as configured now. */
  get takeover(): boolean {
    return this.live.takeover;
  }

  /** A source is connected (sniffed and in place). */
  get connected(): boolean {
    return this.current !== undefined && !this.current.ended && this.current.state !== 'sniffing';
  }

  /** The TCP port bound (TCP listen inputs, once listening). */
  get tcpPort(): number | undefined {
    return this.tcp?.port;
  }

  /** How the mount takes sources, for status: where and how they are checked. */
  get display(): string {
    return this.tcp ? this.tcp.display : 'push';
  }

  // -------------------------------------------------------------------------------------------------
  // The Source pump's side.

  /** Waits for the next accepted source (binds the TCP port the first time). Rejects when closed. */
  async open(signal: AbortSignal): Promise<IngestInput> {
    if (this.closed || signal.aborted) throw new InputError('UNSUPPORTED', 'the ingest point is closed');
    if (!this.announced) {
      this.announced = true;
      await this.announce();
    }
    const r = this.ready;
    this.ready = undefined;
    if (r && !r.ended) return r.input();
    return new Promise<IngestInput>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiter = undefined;
        reject(new InputError('UNSUPPORTED', 'the ingest point is closed'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        resolve: (i) => {
          signal.removeEventListener('abort', onAbort);
          resolve(i);
        },
        reject,
      };
    });
  }

  /** Stops taking sources: closes the TCP port and the current source (answered 503 where possible). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tcp?.close();
    this.ready?.stop('stopped', 'the mount stopped');
    this.current?.stop('stopped', 'the mount stopped');
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(new InputError('UNSUPPORTED', 'the ingest point is closed'));
  }

  /** Binds the TCP port (if any) and says plainly in the log how sources are authenticated. */
  private async announce(): Promise<void> {
    const allow = this.allow ? this.allow.rules.join(',') : 'any address';
    if (this.tcp) {
      await this.tcp.listen();
      const beyondLoopback = !isLoopbackHost(this.tcp.spec.host);
      this.log.info('ingest_listen', {
        listen: this.tcp.display,
        auth: 'none',
        allow,
        takeover: this.takeover,
        note: 'plain TCP is unauthenticated: anyone who can connect to this address can push a stream',
      });
      if (beyondLoopback && !this.allow)
        this.log.warn('ingest_unauthenticated', {
          listen: this.tcp.display,
          reason:
            'listening beyond loopback without allowSources: any host that can reach this port can replace the stream; set allowSources (addresses or CIDR ranges), or use input: push with a token',
        });
      return;
    }
    const auth = this.token !== undefined ? (this.allow ? 'token+address' : 'token') : 'address';
    this.log.info('ingest_push', {
      path: `/${this.mount}`,
      methods: 'PUT,POST,SOURCE',
      auth,
      allow,
      takeover: this.takeover,
    });
    if (this.token === undefined)
      this.log.warn('ingest_unauthenticated', {
        path: `/${this.mount}`,
        reason: `no source token: any client from ${allow} can push to /${this.mount}`,
      });
  }

  // -------------------------------------------------------------------------------------------------
  // HTTP push: PUT / POST / SOURCE /<mount>.

  /** Takes one push request (the route found the mount). Decides before anything of the body is read. */
  acceptPush(socket: Socket, head: RequestHead): void {
    // Behind a trusted proxy (PROXY protocol, X-Forwarded-For: ../http/client-address.ts), the source's own
    // address: what allowSources, the logs and the status use.
    const address = clientAddress(socket);
    const refuse = (status: number, reason: string, text: string, headers: [string, string][] = []): void => {
      this.refused++;
      const level = status === 401 && reason === 'no_credentials' ? 'info' : 'warn';
      this.log[level]('source_refused', { address, status, reason });
      refuseRequest(socket, head, status, text, headers);
    };
    if (this.closed) return refuse(503, 'stopped', 'this mount is stopping; try again later');
    if (this.allow && !this.allow.allows(address))
      return refuse(
        403,
        'address',
        `your address (${address}) may not push to /${this.mount}: the mount takes sources from its allowSources only; ask the operator to add it`,
      );
    if (this.token !== undefined) {
      const cred = parseAuthorization(head.headers.get('authorization')) ?? queryToken(head.query);
      if (!credentialsMatch(cred, this.token)) {
        return refuse(
          401,
          cred ? 'bad_token' : 'no_credentials',
          cred
            ? `wrong source token for /${this.mount}`
            : `a source token is needed to push to /${this.mount}: Authorization: Bearer TOKEN, Basic with the token as the password (http://source:TOKEN@host/${this.mount}), or ?token=TOKEN`,
          [basicChallenge(`mkvserve /${this.mount}`)],
        );
      }
    }
    const range = parseContentRange(head.headers.get('content-range'));
    if (range === 'invalid')
      return refuse(
        400,
        'content_range',
        'invalid Content-Range (expected bytes FIRST-LAST/* or bytes FIRST-LAST/LENGTH)',
      );
    if (range !== undefined && range.start > 0) return this.continuePush(socket, head, range, address, refuse);
    const cur = this.current;
    if (cur && !cur.ended) {
      if (cur.state === 'between')
        cur.stop('ended', 'a new source started'); // the last PUT of a stream was its end
      else if (!this.takeover)
        return refuse(
          409,
          'busy',
          `/${this.mount} already has a source; stop it first, or set takeover: true on the mount to let a new source replace it`,
        );
    }
    if (this.candidates >= MAX_CANDIDATES)
      return refuse(503, 'busy', `too many sources connecting to /${this.mount}; try again later`);
    const body = acceptBody(socket, head, { untilClose: true, idleTimeoutMs: this.idleTimeoutMs });
    if (body.error) {
      this.refused++;
      this.log.warn('source_refused', { address, reason: 'framing', error: body.error.message });
      return;
    }
    if (body.framing.kind === 'none') {
      this.refused++;
      this.log.warn('source_refused', { address, status: 400, reason: 'empty' });
      body.respond(400, 'the request has no body: send the stream as the body (chunked, or until you close)');
      return;
    }
    const ua = head.headers.get('user-agent');
    const session = new SourceSession(
      {
        protocol: 'http',
        address,
        port: clientPort(socket),
        method: head.method,
        ...(ua !== undefined ? { userAgent: ua.slice(0, 200) } : {}),
        resumable: body.framing.kind === 'length',
      },
      new BodyReader(body),
      { idleTimeoutMs: this.idleTimeoutMs, onRelease: (s) => this.onRelease(s), onEnd: (s) => this.onEnd(s) },
    );
    void this.admit(session);
  }

  /** A PUT whose Content-Range continues the current source where its last request ended. */
  private continuePush(
    socket: Socket,
    head: RequestHead,
    range: { start: number; end: number },
    address: string,
    refuse: (status: number, reason: string, text: string) => void,
  ): void {
    const cur = this.current;
    const at = cur?.continuesAt;
    if (!cur || at === undefined || cur.info.protocol !== 'http' || cur.info.address !== address) {
      return refuse(
        409,
        'range',
        `Content-Range starts at byte ${range.start}, but /${this.mount} has no stream from your address waiting to be continued; start a new stream from byte 0`,
      );
    }
    if (range.start !== at)
      return refuse(
        409,
        'range',
        `Content-Range starts at byte ${range.start}, but the stream of /${this.mount} continues at byte ${at}`,
      );
    const body = acceptBody(socket, head, { idleTimeoutMs: this.idleTimeoutMs });
    if (body.error) return;
    if (body.framing.kind !== 'length' || body.framing.length !== range.end - range.start + 1) {
      body.respond(400, 'the Content-Length does not match the Content-Range');
      return;
    }
    if (!cur.continueWith(new BodyReader(body), true))
      body.respond(409, `the stream of /${this.mount} ended before this request continued it`);
  }

  // -------------------------------------------------------------------------------------------------
  // TCP listen.

  private acceptTcp(socket: Socket): void {
    const address = peerAddress(socket);
    const refuse = (reason: string, detail: string): void => {
      this.refused++;
      this.log.warn('source_refused', { address, port: socket.remotePort, reason, detail });
      socket.destroy();
    };
    socket.on('error', () => {});
    if (this.closed) return refuse('stopped', 'the mount is stopping');
    if (this.allow && !this.allow.allows(address))
      return refuse('address', `${address} is not in allowSources of /${this.mount}`);
    const cur = this.current;
    if (cur && !cur.ended && !this.takeover)
      return refuse(
        'busy',
        `/${this.mount} already has a source (one at a time; takeover: true lets a new one replace it)`,
      );
    if (this.candidates >= MAX_CANDIDATES) return refuse('busy', 'too many sources connecting');
    socket.setNoDelay(true);
    const session = new SourceSession(
      { protocol: 'tcp', address, port: socket.remotePort ?? 0, resumable: false },
      new SocketReader(socket, this.idleTimeoutMs),
      { idleTimeoutMs: this.idleTimeoutMs, onRelease: (s) => this.onRelease(s), onEnd: (s) => this.onEnd(s) },
    );
    void this.admit(session);
  }

  // -------------------------------------------------------------------------------------------------
  // Both: sniff, then put the source in place.

  private async admit(session: SourceSession): Promise<void> {
    // Without takeover the slot is claimed at once (a second source during the sniff gets 409);
    // with takeover, the current source is replaced only by a source that proved to be Matroska.
    if (!this.takeover) this.current = session;
    this.candidates++;
    let verdict;
    try {
      verdict = await session.sniff(this.idleTimeoutMs);
    } finally {
      this.candidates--;
    }
    const { address } = session.info;
    if (!verdict.ok || this.closed) {
      if (this.current === session) this.current = undefined;
      this.refused++;
      const message = verdict.ok ? 'the mount is stopping' : verdict.message;
      const status = verdict.ok ? 503 : verdict.end === 'format' ? 415 : 400;
      this.log.warn('source_refused', {
        address,
        protocol: session.info.protocol,
        ...(session.info.protocol === 'http' ? { status } : {}),
        reason: verdict.ok ? 'stopped' : verdict.end === 'format' ? 'not_matroska' : verdict.end,
        detail: message,
      });
      session.refuse(status, message);
      return;
    }
    const old = this.current;
    if (old && old !== session && !old.ended) old.stop('taken_over', `source ${session.id} from ${address} took over`);
    this.current = session;
    this.sources++;
    session.accepted();
    this.log.info('source_connect', {
      source: session.id,
      protocol: session.info.protocol,
      address,
      port: session.info.port,
      method: session.info.method,
      ua: session.info.userAgent,
      docType: verdict.docType,
      takeover: old !== undefined && old !== session ? true : undefined,
    });
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(session.input());
    } else {
      this.ready?.stop('taken_over', 'a newer source arrived before this one was read');
      this.ready = session;
    }
  }

  private onRelease(s: SourceSession): void {
    if (this.current === s) this.current = undefined;
    if (this.ready === s) this.ready = undefined;
  }

  private onEnd(s: SourceSession): void {
    this.bytesEnded += s.bytes;
    const end = s.end as SourceEnd;
    const clean = end === 'ended' || end === 'stopped';
    if (!clean) this.drops++;
    this.last = s;
    const fields = {
      source: s.id,
      protocol: s.info.protocol,
      address: s.info.address,
      bytes: s.bytes,
      requests: s.info.protocol === 'http' ? s.requests : undefined,
      durationMs: (s.endedAt ?? Date.now()) - s.since,
      reason: end,
      detail: s.endMessage,
    };
    if (clean) this.log.info('source_end', fields);
    else this.log.warn('source_drop', fields);
  }

  /** A plain snapshot for status and metrics (no secret in it). */
  snapshot(): IngestSnapshot {
    const cur = this.current && !this.current.ended && this.current.state !== 'sniffing' ? this.current : undefined;
    return {
      protocol: this.protocol,
      listen: this.tcp ? this.tcp.display : null,
      auth: this.protocol === 'tcp' ? 'none' : this.token !== undefined ? 'token' : 'none',
      allowSources: this.allow ? [...this.allow.rules] : null,
      takeover: this.takeover,
      source: cur ? summary(cur) : null,
      lastSource: this.last ? summary(this.last) : null,
      sources: this.sources,
      drops: this.drops,
      refused: this.refused,
      bytes: this.bytesEnded + (cur?.bytes ?? 0),
    };
  }
}
