// The one rule for mount names, used by the CLI, the config file and the library API alike: a mount is
// served at /<name>, so a name is one short URL path segment that needs no escaping in a URL, a shell
// or a YAML key, and that cannot shadow a route of the server itself.

/** Names that are routes of the server (compared case-insensitively). */
export const RESERVED_MOUNT_NAMES: readonly string[] = ['api', 'metrics', 'status', 'admin'];

const MOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9_~-]{0,63}$/;

/** What a valid name looks like, for error messages. */
export const MOUNT_NAME_RULE =
  'one URL path segment of up to 64 letters, digits, "-", "_" or "~", starting with a letter or digit';

/** Why `name` cannot be a mount name, or undefined when it can. A leading "/" is allowed and ignored. */
export function mountNameProblem(name: string): string | undefined {
  const n = name.startsWith('/') ? name.slice(1) : name;
  if (n === '') return 'mount name is empty';
  if (!MOUNT_NAME.test(n)) return `invalid mount name "${n}": ${MOUNT_NAME_RULE}`;
  if (RESERVED_MOUNT_NAMES.includes(n.toLowerCase()))
    return `mount name "${n}" is reserved (${RESERVED_MOUNT_NAMES.join(', ')} are routes of the server)`;
  return undefined;
}

/** Returns the normalized name (without a leading "/"), or throws an Error saying what is wrong. */
export function validateMountName(name: string): string {
  const problem = mountNameProblem(name);
  if (problem !== undefined) throw new Error(problem);
  return name.startsWith('/') ? name.slice(1) : name;
}
