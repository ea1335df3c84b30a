// The management API (JSON): read-only views of the mounts and clients, and the three actions that change
// state (kick a client, restart a mount, reload the configuration file). The route table (routes.ts)
// decides access (reads: open on loopback, else the admin token; actions: always the admin token); the
// handlers here only read a snapshot or call the server through ApiContext, so the API never imports the
// server. Every error is JSON `{ "error": code, "message": text }`, and the text says what to do. No
// secret is ever part of an answer: snapshots carry none, and reload reports name keys, never values.

import type { Socket } from 'node:net';
import type { RequestHead } from './http/parser.js';
import { sendResponse } from './http/response.js';
import type { HeaderList } from './http/response.js';
import { discardRequestBody } from './http/connection.js';
import type { ClientSnapshot, ServerSnapshot } from './snapshot.js';
import { clientStatus, mountStatus } from './status.js';
import type { ClientStatus, MountStatus } from './status.js';
import { ConfigError } from './config.js';
import { ReloadUnavailableError, ServerStoppingError } from './reload.js';
import type { ReloadReport } from './reload.js';

/** What the API needs from the server (MkvServer implements it). */
export interface ApiContext {
  readonly cors: string | undefined;
  snapshot(withClients: boolean): ServerSnapshot;
  /** Ends a stream client now; its snapshot, or undefined when there is no such client. */
  kickClient(id: number): ClientSnapshot | undefined;
  /** Replaces a mount by a fresh one with the same settings (its clients end cleanly and reconnect). */
  restartMount(name: string): Promise<{ name: string; clientsEnded: number } | undefined>;
  /** Re-reads the configuration and applies it. Rejects with ConfigError (the running configuration
   *  stays), ReloadUnavailableError (no file) or ServerStoppingError. */
  reload(): Promise<ReloadReport>;
  routeError(err: unknown, path: string): void;
}

/** The part of a routed request the API uses. */
export interface ApiRequest {
  socket: Socket;
  head: RequestHead;
  path: string;
  isHead: boolean;
  /** Values of the route's `:name` segments. */
  params: Record<string, string>;
}

/** `GET /api/mounts/:name`: the mount and its clients. */
export interface MountDetail {
  mount: MountStatus;
  clients: ClientStatus[];
}

/** Sends a JSON answer (pretty-printed: people read it with curl). */
export function sendJson(
  socket: Socket,
  status: number,
  body: unknown,
  headOnly = false,
  extra: HeaderList = [],
): void {
  sendResponse(
    socket,
    status,
    [['Content-Type', 'application/json; charset=utf-8'], ['Cache-Control', 'no-store'], ...extra],
    JSON.stringify(body, null, 2) + '\n',
    headOnly,
  );
}

/** Sends a JSON error: `{ error, message }` (+ `extra` fields). */
export function sendApiError(
  socket: Socket,
  status: number,
  error: string,
  message: string,
  opts: { headOnly?: boolean; headers?: HeaderList; fields?: Record<string, unknown> } = {},
): void {
  sendJson(socket, status, { error, message, ...opts.fields }, opts.headOnly ?? false, opts.headers);
}

const cors = (ctx: ApiContext): HeaderList =>
  ctx.cors !== undefined ? [['Access-Control-Allow-Origin', ctx.cors]] : [];

type ApiHandler = (ctx: ApiContext, req: ApiRequest) => void;

/** GET /api/mounts */
export const listMounts: ApiHandler = (ctx, req) => {
  const snap = ctx.snapshot(false);
  sendJson(req.socket, 200, { mounts: snap.mounts.map((m) => mountStatus(m, snap.listening)) }, req.isHead, cors(ctx));
};

/** GET /api/mounts/:name */
export const getMount: ApiHandler = (ctx, req) => {
  const snap = ctx.snapshot(true);
  const name = req.params['name'];
  const m = snap.mounts.find((x) => x.name === name);
  if (!m) {
    sendApiError(req.socket, 404, 'no_such_mount', noMount(name, snap), { headOnly: req.isHead });
    return;
  }
  const body: MountDetail = {
    mount: mountStatus(m, snap.listening),
    clients: (m.clientList ?? []).map((c) => clientStatus(c, snap.now)),
  };
  sendJson(req.socket, 200, body, req.isHead, cors(ctx));
};

/** GET /api/clients (`?mount=NAME` for one mount's) */
export const listClients: ApiHandler = (ctx, req) => {
  const snap = ctx.snapshot(true);
  const only = new URLSearchParams(req.head.query).get('mount');
  if (only !== null && !snap.mounts.some((m) => m.name === only)) {
    sendApiError(req.socket, 404, 'no_such_mount', noMount(only, snap), { headOnly: req.isHead });
    return;
  }
  const clients: ClientStatus[] = [];
  for (const m of snap.mounts) {
    if (only !== null && m.name !== only) continue;
    for (const c of m.clientList ?? []) clients.push(clientStatus(c, snap.now));
  }
  sendJson(req.socket, 200, { clients }, req.isHead, cors(ctx));
};

/** DELETE /api/clients/:id */
export const kickClient: ApiHandler = (ctx, req) => {
  const raw = req.params['id'];
  if (!/^\d{1,15}$/.test(raw)) {
    sendApiError(req.socket, 400, 'bad_client_id', `"${raw}" is not a client id: ids are numbers (GET /api/clients)`);
    return;
  }
  const c = ctx.kickClient(Number(raw));
  if (!c) {
    sendApiError(
      req.socket,
      404,
      'no_such_client',
      `no client ${raw}: it may have disconnected already; GET /api/clients lists the connected clients`,
    );
    return;
  }
  sendJson(req.socket, 200, { kicked: clientStatus(c, Date.now()) }, false, cors(ctx));
};

/** POST /api/mounts/:name/restart */
export const restartMount: ApiHandler = (ctx, req) => {
  discardRequestBody(req.socket); // no body is expected; whatever comes is read and dropped (bounded)
  const name = req.params['name'];
  ctx.restartMount(name).then(
    (r) => {
      if (r) sendJson(req.socket, 200, { restarted: r.name, clientsEnded: r.clientsEnded }, false, cors(ctx));
      else sendApiError(req.socket, 404, 'no_such_mount', noMount(name, ctx.snapshot(false)));
    },
    (err: unknown) => answerFailure(ctx, req, err),
  );
};

/** POST /api/reload */
export const reload: ApiHandler = (ctx, req) => {
  discardRequestBody(req.socket);
  ctx.reload().then(
    (report) => sendJson(req.socket, 200, { reloaded: true, ...report }, false, cors(ctx)),
    (err: unknown) => answerFailure(ctx, req, err),
  );
};

function answerFailure(ctx: ApiContext, req: ApiRequest, err: unknown): void {
  if (err instanceof ConfigError) {
    sendApiError(
      req.socket,
      422,
      'invalid_configuration',
      'the configuration was not applied (the running one stays): fix the problems listed in "issues" and reload again',
      { fields: { issues: err.issues } },
    );
  } else if (err instanceof ReloadUnavailableError) {
    sendApiError(req.socket, 409, 'no_config_file', err.message);
  } else if (err instanceof ServerStoppingError) {
    sendApiError(req.socket, 503, 'stopping', 'the server is shutting down', { headers: [['Retry-After', 5]] });
  } else {
    ctx.routeError(err, req.path);
    sendApiError(req.socket, 500, 'internal', 'the action failed: see the server log');
  }
}

function noMount(name: string, snap: ServerSnapshot): string {
  const names = snap.mounts.map((m) => m.name).join(', ');
  return `no mount "${name}" (mounts: ${names || 'none'}); GET /api/mounts lists them`;
}
