// One redaction function for everything an input spec is shown in: the `/` page, the status JSON, the
// log lines and the "serving ... at" line. URLs lose their userinfo (user:password@), their query and
// their fragment, which is where credentials and tokens live; paths are kept (they locate the stream).

/** The input spec as it may be shown: userinfo, query and fragment of URLs removed. */
export function redactInput(spec: string): string {
  const m = /^([a-z][a-z0-9+.-]*:)(\/\/)?(.*)$/i.exec(spec);
  if (!m || (m[2] === undefined && !/^file:/i.test(spec))) return spec; // a path, '-', 'push', ...
  let rest = m[3];
  const cut = rest.search(/[?#]/);
  const hadQuery = cut >= 0;
  if (hadQuery) rest = rest.slice(0, cut);
  if (m[2] !== undefined) {
    // authority = up to the first '/'; drop everything up to its last '@'.
    const slash = rest.indexOf('/');
    const authority = slash < 0 ? rest : rest.slice(0, slash);
    const at = authority.lastIndexOf('@');
    if (at >= 0) rest = rest.slice(at + 1);
  }
  return `${m[1]}${m[2] ?? ''}${rest}${hadQuery ? '?…' : ''}`;
}

/** The last path component of a file input (what the public page shows of a file on loopback). */
export function baseName(spec: string): string {
  const s = redactInput(spec);
  const i = s.replace(/\/+$/, '').lastIndexOf('/');
  return i < 0 ? s : s.slice(i + 1);
}
