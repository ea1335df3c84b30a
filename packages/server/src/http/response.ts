// Small helpers to write HTTP/1.1 response heads and whole (non-streaming) responses on a raw
// net.Socket. Every response is `Connection: close`: the server never keeps a connection alive (once a
// response is written, ./connection.ts gives the peer its idle timeout to close, then cuts it).

import type { Socket } from 'node:net';

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** The interim response a client that sent `Expect: 100-continue` waits for before sending its body. */
export const CONTINUE_100 = 'HTTP/1.1 100 Continue\r\n\r\n';

export type HeaderList = [string, string | number][];

export function responseHead(status: number, headers: HeaderList): string {
  let s = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n`;
  for (const [k, v] of headers) s += `${k}: ${v}\r\n`;
  return s + 'Connection: close\r\n\r\n';
}

/** Writes a complete response and ends the socket (half-close; the peer's FIN or a timer closes it). */
export function sendResponse(
  socket: Socket,
  status: number,
  headers: HeaderList,
  body: string | Uint8Array = '',
  headOnly = false,
): void {
  if (socket.destroyed) return;
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const all: HeaderList = [...headers, ['Content-Length', bytes.byteLength]];
  const head = responseHead(status, all);
  if (headOnly || bytes.byteLength === 0) socket.end(head);
  else {
    socket.cork();
    socket.write(head);
    socket.end(bytes);
    socket.uncork();
  }
}

export function sendText(socket: Socket, status: number, text: string, headOnly = false, extra: HeaderList = []): void {
  sendResponse(
    socket,
    status,
    [['Content-Type', 'text/plain; charset=utf-8'], ['Cache-Control', 'no-store'], ...extra],
    text,
    headOnly,
  );
}
