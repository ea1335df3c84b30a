// The route table: every HTTP route of the server, as method(s) + path pattern -> handler, in one place.
// Handlers get a RouteContext (implemented by MkvServer) and never import the server, so status,
// metrics and pages stay independent of it. Lookups are resolved once: static paths in a Map, the few
// parameterised routes (/<mount>, /<mount>/player) matched segment by segment. The HTML pages (pages/)
// are public like the streams; the status page's figures come from /api/status under its access rules.

import type { Socket } from 'node:net';
import type { RequestHead } from './http/parser.js';
import { sendResponse, sendText } from './http/response.js';
import { refuseRequest } from './http/body.js';
import type { HeaderList } from './http/response.js';
import { bearerMatches } from './http/auth.js';
import type { AdminAccess } from './http/auth.js';
import type { Mount } from './mount.js';
import type { ServerSnapshot } from './snapshot.js';
import { buildStatus } from './status.js';
import { renderListingPage, renderListingText } from './pages/listing.js';
import { renderPlayerPage } from './pages/player.js';
import { renderStatusPage } from './pages/status-page.js';
import type { Page } from './pages/html.js';

/** A refused viewer: status, text, Retry-After seconds. */
export interface Refusal {
  status: 429 | 503;
  text: string;
}

/** What the handlers need from the server. */
export interface RouteContext {
  /** Access-Control-Allow-Origin of the server's own routes. */
  readonly cors: string | undefined;
  readonly admin: AdminAccess;
  readonly adminToken: string | undefined;
  findMount(name: string): Mount | undefined;
  /** Why a new viewer of `mount` on `socket` is refused (a client limit), or undefined. */
  admit(mount: Mount, socket: Socket): Refusal | undefined;
  snapshot(withClients: boolean): ServerSnapshot;
  metrics(): Promise<{ contentType: string; text: string }>;
  /** A route handler failed (logged by the server). */
  routeError(err: unknown, path: string): void;
}

export interface Request {
  socket: Socket;
  head: RequestHead;
  /** Path without a trailing slash. */
  path: string;
  isHead: boolean;
  /** The `:mount` segment of parameterised routes. */
  param: string;
}

type Handler = (ctx: RouteContext, req: Request) => void;

interface RouteDef {
  /** `/literal` or `/:mount` (one segment). */
  pattern: string;
  methods: readonly string[];
  /** Needs the admin token (or loopback without one). */
  admin?: boolean;
  handler: Handler;
}

const GET_HEAD = ['GET', 'HEAD'] as const;

function corsHeaders(origin: string | undefined): HeaderList {
  return origin !== undefined ? [['Access-Control-Allow-Origin', origin]] : [];
}

function sendPage(req: Request, page: Page, extra: HeaderList = []): void {
  sendResponse(req.socket, 200, [...page.headers, ...extra], page.html, req.isHead);
}

const listing: Handler = (ctx, req) => {
  const snap = ctx.snapshot(false);
  if ((req.head.headers.get('accept') ?? '').includes('text/html')) {
    sendPage(req, renderListingPage(snap), corsHeaders(ctx.cors));
    return;
  }
  sendResponse(
    req.socket,
    200,
    [['Content-Type', 'text/plain; charset=utf-8'], ['Cache-Control', 'no-store'], ...corsHeaders(ctx.cors)],
    renderListingText(snap),
    req.isHead,
  );
};

/** GET /<mount>/player: the mount in a <video> (public like the stream itself). */
const playerPage: Handler = (ctx, req) => {
  const snap = ctx.snapshot(false);
  const m = snap.mounts.find((x) => x.name === req.param);
  if (m === undefined) {
    sendText(req.socket, 404, 'no such mount: the mounts are listed at /\n', req.isHead);
    return;
  }
  sendPage(req, renderPlayerPage(snap, m));
};

/** GET /status: the status page; its figures are rendered in only where /api/status is open. */
const statusPage: Handler = (ctx, req) => {
  const open = ctx.admin === 'open';
  const snap = ctx.snapshot(open);
  sendPage(req, renderStatusPage(ctx.admin, snap.version, open ? buildStatus(snap) : undefined));
};

const status: Handler = (ctx, req) => {
  // Diagnostics: with node --expose-gc, `?gc=1` collects garbage first (leak checks).
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc && /(^|&)gc=1(&|$)/.test(req.head.query)) gc();
  sendResponse(
    req.socket,
    200,
    [['Content-Type', 'application/json; charset=utf-8'], ['Cache-Control', 'no-store'], ...corsHeaders(ctx.cors)],
    JSON.stringify(buildStatus(ctx.snapshot(true)), null, 2) + '\n',
    req.isHead,
  );
};

const metrics: Handler = (ctx, req) => {
  ctx.metrics().then(
    (m) =>
      sendResponse(
        req.socket,
        200,
        [
          ['Content-Type', m.contentType],
          ['Cache-Control', 'no-store'],
        ],
        m.text,
        req.isHead,
      ),
    (err: unknown) => {
      ctx.routeError(err, req.path);
      sendText(req.socket, 500, 'metrics are not available: see the server log\n', req.isHead);
    },
  );
};

const stream: Handler = (ctx, req) => {
  const mount = ctx.findMount(req.param);
  if (!mount) {
    sendText(req.socket, 404, 'not found\n', req.isHead);
    return;
  }
  // Range: a live stream has no byte positions. Every Range (bytes=0- from browsers, or any other)
  // gets the normal 200 stream, with Accept-Ranges: none. A malformed one is ignored too.
  if (mount.inputEnded) {
    sendText(req.socket, 503, 'input ended\n', req.isHead, [['Retry-After', 5]]);
    return;
  }
  const refusal = ctx.admit(mount, req.socket);
  if (refusal) {
    mount.refused++;
    sendText(req.socket, refusal.status, refusal.text, req.isHead, [['Retry-After', 5]]);
    return;
  }
  mount.accept(req.socket, req.head);
};

/** Push ingest: a source sends its stream as the request body (ingest/point.ts decides before reading it).
 *  A mount that does not take pushed streams answers 405 (its input is a file, URL or TCP listen). */
const push: Handler = (ctx, req) => {
  const mount = ctx.findMount(req.param);
  if (!mount) {
    refuseRequest(req.socket, req.head, 404, `no mount /${req.param}: a push mount is configured with input: push`);
    return;
  }
  if (mount.ingest?.protocol !== 'http') {
    refuseRequest(
      req.socket,
      req.head,
      405,
      `/${mount.name} does not take pushed streams (its input is not push): only GET and HEAD`,
      [['Allow', GET_HEAD.join(', ')]],
    );
    return;
  }
  mount.ingest.acceptPush(req.socket, req.head);
};

/** Every route of the server. Several routes may share a pattern (one per method set). */
export const ROUTES: readonly RouteDef[] = [
  { pattern: '/', methods: GET_HEAD, handler: listing },
  { pattern: '/status', methods: GET_HEAD, handler: statusPage },
  { pattern: '/api/status', methods: GET_HEAD, admin: true, handler: status },
  { pattern: '/metrics', methods: GET_HEAD, admin: true, handler: metrics },
  { pattern: '/:mount', methods: GET_HEAD, handler: stream },
  { pattern: '/:mount', methods: ['PUT', 'POST', 'SOURCE'], handler: push },
  { pattern: '/:mount/player', methods: GET_HEAD, handler: playerPage },
];

const STATIC = new Map(ROUTES.filter((r) => !r.pattern.includes(':')).map((r) => [r.pattern, r]));
/** Parameterised routes by segment count: [segments of the pattern, route]. */
const PARAMS = ROUTES.filter((r) => r.pattern.includes(':')).map((r) => [r.pattern.split('/'), r] as const);

/**
 * The parameterised route matching `path` (one `:name` segment, the rest literal) and its parameter: of
 * the routes sharing a pattern, the one that takes `method` (else the first one, which answers 405).
 */
function matchParam(path: string, method: string): { route: RouteDef; param: string } | undefined {
  const parts = path.split('/');
  let first: { route: RouteDef; param: string } | undefined;
  for (const [segs, route] of PARAMS) {
    if (segs.length !== parts.length) continue;
    let param: string | undefined;
    let ok = true;
    for (let i = 1; i < segs.length && ok; i++) {
      if (segs[i].startsWith(':')) {
        param = parts[i];
        ok = param !== '';
      } else ok = segs[i] === parts[i];
    }
    if (!ok || param === undefined) continue;
    if (route.methods.includes(method)) return { route, param };
    first ??= { route, param };
  }
  return first;
}

/** The methods of every route with `route`'s pattern (`/:mount`: GET, HEAD, PUT, POST, SOURCE). */
function allowed(route: RouteDef): string {
  return [...new Set(ROUTES.filter((r) => r.pattern === route.pattern).flatMap((r) => r.methods))].join(', ');
}

/** Sends 401/403 and returns false when an admin route is not allowed. */
function authorized(ctx: RouteContext, req: Request): boolean {
  if (ctx.admin === 'open') return true;
  if (ctx.admin === 'forbidden') {
    sendText(
      req.socket,
      403,
      'status and metrics need an admin token when listening beyond loopback (--admin-token-file FILE or $MKVSERVE_ADMIN_TOKEN)\n',
      req.isHead,
    );
    return false;
  }
  if (bearerMatches(req.head.headers.get('authorization'), ctx.adminToken!)) return true;
  sendText(req.socket, 401, 'admin token required (Authorization: Bearer TOKEN)\n', req.isHead, [
    ['WWW-Authenticate', 'Bearer realm="mkvserve"'],
  ]);
  return false;
}

/** Routes one request (the socket belongs to the handler from here on). */
export function dispatch(ctx: RouteContext, socket: Socket, head: RequestHead): void {
  let path = head.path;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  let route = STATIC.get(path);
  let param = '';
  if (route === undefined) {
    const m = matchParam(path, head.method);
    if (m !== undefined) ({ route, param } = m);
  }
  const method = head.method;
  const isHead = method === 'HEAD';
  if (route === undefined) {
    sendText(socket, 404, 'not found\n', isHead);
    return;
  }
  if (!route.methods.includes(method)) {
    const cors = route.pattern === '/:mount' ? (ctx.findMount(param)?.cors ?? ctx.cors) : ctx.cors;
    if (method === 'OPTIONS' && cors !== undefined) {
      sendResponse(socket, 204, [
        ...corsHeaders(cors),
        ['Access-Control-Allow-Methods', allowed(route)],
        ['Access-Control-Allow-Headers', 'Range, Authorization'],
        ['Access-Control-Max-Age', 600],
      ]);
      return;
    }
    sendText(socket, 405, `only ${allowed(route)}\n`, false, [['Allow', allowed(route)]]);
    return;
  }
  const req: Request = { socket, head, path, isHead, param };
  if (route.admin && !authorized(ctx, req)) return;
  route.handler(ctx, req);
}
