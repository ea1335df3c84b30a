// The TCP listen input, in ffmpeg's spelling: `tcp://HOST:PORT?listen` (or `?listen=1`). The host may be
// left out (`tcp://:9000?listen`): plain TCP has no place for a token, so it then binds 127.0.0.1 and only
// this machine can push. Nothing else is accepted in the URL (no user:password, no path, no other option),
// so the spec holds no secret and can be shown as it is.

export interface TcpListenSpec {
  /** Address to bind (brackets removed for IPv6). */
  host: string;
  /** Port to bind (0 = any free port, for tests). */
  port: number;
  /** The spec as shown in logs and status (normalized). */
  display: string;
}

/** Default bind address of a TCP listen input given without a host. */
export const TCP_LISTEN_DEFAULT_HOST = '127.0.0.1';

const FORM = 'tcp://HOST:PORT?listen';

/** Parses `tcp://HOST:PORT?listen`; returns a message saying what is wrong instead when it is not one. */
export function parseTcpListen(spec: string): TcpListenSpec | string {
  const m = /^tcp:\/\/(\[[^\]]*\]|[^/:?#@[\]]*)(?::(\d{1,5}))?\/?(?:\?([^#]*))?$/i.exec(spec);
  if (!m) {
    if (/^tcp:\/\/[^/?#]*@/i.test(spec)) return `"${spec}": plain TCP takes no user or password (${FORM})`;
    return `invalid TCP listen input "${spec}" (expected ${FORM})`;
  }
  const rawHost = m[1];
  if (m[2] === undefined) return `"${spec}": a port is needed (${FORM})`;
  const port = Number(m[2]);
  if (port > 65535) return `"${spec}": the port must be at most 65535`;
  const params = (m[3] ?? '').split('&').filter((p) => p !== '');
  let listen = false;
  for (const p of params) {
    const [k, v] = p.split('=', 2) as [string, string | undefined];
    if (k === 'listen' && (v === undefined || v === '1')) listen = true;
    else if (k === 'listen') return `"${spec}": only listening is supported (${FORM}); listen=${v} would connect out`;
    else return `"${spec}": unknown option "${k}" (only ${FORM} is supported)`;
  }
  if (!listen) return `"${spec}": only listening is supported (${FORM})`;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost === '' ? TCP_LISTEN_DEFAULT_HOST : rawHost;
  if (host === '') return `"${spec}": empty IPv6 address`;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { host, port, display: `tcp://${shownHost}:${port}?listen` };
}
