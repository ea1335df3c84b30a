// The route table: every HTTP route of the server, as method(s) + path pattern -> handler, in one place.
// Handlers get a RouteContext (implemented by MkvServer) and never import the server, so status,
// metrics, pages and the API stay independent of it. Patterns are literal segments and `:name`
// segments; literal paths are found in a Map, the others (/<mount>, /<mount>/player, the API's) are
// matched segment by segment, in table order. The HTML pages (pages/) are public like the streams; the
// status page's figures come from /api/status under its access rules. Admin routes are `read` (open on
// loopback, else the admin token) or `write` (always the admin token); with a separate admin listener
// they are served there (and, unless it is shared, only there). Errors of /api/* paths are JSON
// (api.ts), the others text.

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
import { getMount, kickClient, listClients, listMounts, reload, restartMount, sendApiError } from './api.js';
import type { ApiContext } from './api.js';

/** A refused viewer: status, text, Retry-After seconds. */
export interface Refusal {
  status: 429 | 503;
  text: string;
}

/** Which listener a request came in on: the public one, or the separate admin listener. */
export type Listener = 'public' | 'admin';

/** What the handlers need from the server. */
export interface RouteContext extends ApiContext {
  /** Access-Control-Allow-Origin of the server's own routes. */
  readonly cors: string | undefined;
  /** Admin access rule of the public listener. */
  readonly admin: AdminAccess;
  readonly adminToken: string | undefined;
  /** Admin access rule of a listener (the admin listener's depends on its own address). */
  adminAccessOn(listener: Listener): AdminAccess;
  /** Admin routes are served on the public listener (no admin listener, or one that is not exclusive). */
  readonly adminOnPublic: boolean;
  findMount(name: string): Mount | undefined;
  /** Why a new viewer of `mount` on `socket` is refused (a client limit), or undefined; an admitted
   *  viewer (not HEAD) is counted for its address until its socket closes. */
  admit(mount: Mount, socket: Socket, isHead?: boolean): Refusal | undefined;
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
  /** The first `:name` segment of parameterised routes (the mount of `/:mount`). */
  param: string;
  /** Every `:name` segment by name. */
  params: Record<string, string>;
  listener: Listener;
}

type Handler = (ctx: RouteContext, req: Request) => void;

interface RouteDef {
  /** `/literal/path`, with `:name` for one segment (`/:mount`, `/api/mounts/:name/restart`). */
  pattern: string;
  methods: readonly string[];
  /** Admin route. `read` (or true): open on loopback without a token, else the admin token. `write`:
   *  always the admin token (401 otherwise, also on loopback). */
  admin?: true | 'read' | 'write';
  /** A page about the API's data (the status page): served on the listener that serves the API, with no
   *  access rule of its own (it shows figures only where the API's read rule lets it). */
  adminPage?: true;
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
  const access = ctx.adminAccessOn(req.listener);
  const open = access === 'open';
  const snap = ctx.snapshot(open);
  sendPage(req, renderStatusPage(access, snap.version, open ? buildStatus(snap) : undefined));
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
  const refusal = ctx.admit(mount, req.socket, req.isHead);
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

/** Every route of the server. */
export const ROUTES: readonly RouteDef[] = [
  { pattern: '/', methods: GET_HEAD, handler: listing },
  { pattern: '/status', methods: GET_HEAD, adminPage: true, handler: statusPage },
  { pattern: '/api/status', methods: GET_HEAD, admin: 'read', handler: status },
  { pattern: '/metrics', methods: GET_HEAD, admin: 'read', handler: metrics },
  { pattern: '/api/mounts', methods: GET_HEAD, admin: 'read', handler: listMounts },
  { pattern: '/api/mounts/:name', methods: GET_HEAD, admin: 'read', handler: getMount },
  { pattern: '/api/clients', methods: GET_HEAD, admin: 'read', handler: listClients },
  { pattern: '/api/clients/:id', methods: ['DELETE'], admin: 'write', handler: kickClient },
  { pattern: '/api/mounts/:name/restart', methods: ['POST'], admin: 'write', handler: restartMount },
  { pattern: '/api/reload', methods: ['POST'], admin: 'write', handler: reload },
  { pattern: '/:mount', methods: GET_HEAD, handler: stream },
  { pattern: '/:mount', methods: ['PUT', 'POST', 'SOURCE'], handler: push },
  { pattern: '/:mount/player', methods: GET_HEAD, handler: playerPage },
];

interface CompiledRoute {
  def: RouteDef;
  /** Literal segment, or undefined for a `:name` segment. */
  segments: (string | undefined)[];
  names: string[];
}

/** Literal patterns by path (several definitions may share one, with different methods). */
const STATIC = new Map<string, RouteDef[]>();
const PARAMETERISED: CompiledRoute[] = [];
for (const def of ROUTES) {
  if (!def.pattern.includes(':')) {
    STATIC.set(def.pattern, [...(STATIC.get(def.pattern) ?? []), def]);
    continue;
  }
  const parts = def.pattern.split('/').slice(1);
  PARAMETERISED.push({
    def,
    segments: parts.map((p) => (p.startsWith(':') ? undefined : p)),
    names: parts.filter((p) => p.startsWith(':')).map((p) => p.slice(1)),
  });
}

/** The routes whose pattern matches `path`, each with its parameters (literal paths win). */
function match(path: string): { def: RouteDef; params: Record<string, string>; first: string }[] {
  const literal = STATIC.get(path);
  if (literal) return literal.map((def) => ({ def, params: {}, first: '' }));
  const parts = path.split('/').slice(1);
  const out: { def: RouteDef; params: Record<string, string>; first: string }[] = [];
  for (const r of PARAMETERISED) {
    if (r.segments.length !== parts.length) continue;
    const values: string[] = [];
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const seg = r.segments[i];
      if (seg === undefined) {
        if (parts[i] === '') ok = false;
        else values.push(parts[i]);
      } else if (seg !== parts[i]) ok = false;
    }
    if (!ok) continue;
    const params: Record<string, string> = {};
    r.names.forEach((n, i) => (params[n] = values[i]));
    out.push({ def: r.def, params, first: values[0] ?? '' });
  }
  return out;
}

function allowed(routes: { def: RouteDef }[]): string {
  return [...new Set(routes.flatMap((r) => r.def.methods))].join(', ');
}

const isApi = (path: string): boolean => path === '/api' || path.startsWith('/api/');

/** An error answer: JSON on /api/*, text elsewhere. */
function refuse(
  req: Pick<Request, 'socket' | 'path' | 'isHead'>,
  status: number,
  error: string,
  message: string,
  headers: HeaderList = [],
): void {
  if (isApi(req.path)) sendApiError(req.socket, status, error, message, { headOnly: req.isHead, headers });
  else sendText(req.socket, status, `${message}\n`, req.isHead, headers);
}

const BEARER_CHALLENGE: [string, string] = ['WWW-Authenticate', 'Bearer realm="mkvserve"'];

/** Sends 401/403 and returns false when an admin route is not allowed. */
function authorized(ctx: RouteContext, req: Request, level: 'read' | 'write'): boolean {
  const token = ctx.adminToken;
  if (level === 'write') {
    if (token === undefined) {
      refuse(
        req,
        401,
        'no_admin_token',
        'this action needs the admin token, and the server has none: set server.adminTokenFile in the config file (or $MKVSERVE_ADMIN_TOKEN, --admin-token-file) and restart, then send Authorization: Bearer TOKEN',
        [BEARER_CHALLENGE],
      );
      return false;
    }
  } else {
    const access = ctx.adminAccessOn(req.listener);
    if (access === 'open') return true;
    if (access === 'forbidden') {
      refuse(
        req,
        403,
        'admin_disabled',
        'the API, status and metrics need an admin token when listening beyond loopback (--admin-token-file FILE or $MKVSERVE_ADMIN_TOKEN)',
      );
      return false;
    }
  }
  if (bearerMatches(req.head.headers.get('authorization'), token!)) return true;
  refuse(req, 401, 'unauthorized', 'admin token required: send Authorization: Bearer TOKEN', [BEARER_CHALLENGE]);
  return false;
}

/** Whether `route` is served on `listener` (admin routes move to the admin listener when there is one). */
function servedOn(ctx: RouteContext, def: RouteDef, listener: Listener): boolean {
  const adminSide = def.admin !== undefined || def.adminPage === true;
  if (listener === 'admin') return adminSide;
  return !adminSide || ctx.adminOnPublic;
}

/** Routes one request (the socket belongs to the handler from here on). */
export function dispatch(ctx: RouteContext, socket: Socket, head: RequestHead, listener: Listener = 'public'): void {
  let path = head.path;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const method = head.method;
  const isHead = method === 'HEAD';
  const found = match(path).filter((r) => servedOn(ctx, r.def, listener));
  if (found.length === 0) {
    refuse({ socket, path, isHead }, 404, 'not_found', isApi(path) ? `no such API endpoint: ${path}` : 'not found');
    return;
  }
  const hit = found.find((r) => r.def.methods.includes(method));
  if (hit === undefined) {
    const route = found[0];
    const cors = route.def.pattern === '/:mount' ? (ctx.findMount(route.first)?.cors ?? ctx.cors) : ctx.cors;
    if (method === 'OPTIONS' && cors !== undefined) {
      sendResponse(socket, 204, [
        ...corsHeaders(cors),
        ['Access-Control-Allow-Methods', allowed(found)],
        ['Access-Control-Allow-Headers', 'Range, Authorization'],
        ['Access-Control-Max-Age', 600],
      ]);
      return;
    }
    refuse({ socket, path, isHead: false }, 405, 'method_not_allowed', `only ${allowed(found)}`, [
      ['Allow', allowed(found)],
    ]);
    return;
  }
  const req: Request = { socket, head, path, isHead, param: hit.first, params: hit.params, listener };
  const level = hit.def.admin === 'write' ? 'write' : hit.def.admin !== undefined ? 'read' : undefined;
  if (level !== undefined && !authorized(ctx, req, level)) return;
  hit.def.handler(ctx, req);
}
