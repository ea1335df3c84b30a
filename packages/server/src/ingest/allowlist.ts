// Which addresses may connect a source (config `allowSources`): plain TCP ingest has no place for a
// token, so an address list is its only access control beyond the address it binds; an HTTP push mount
// may use one too (with or without a token). Rules are addresses or CIDR ranges, IPv4 or IPv6; an IPv4
// rule also matches the IPv4-mapped IPv6 form (`::ffff:10.0.0.7`) a dual-stack socket reports.
// Checked with node:net's BlockList (used here as an allow list).

import { BlockList, isIP } from 'node:net';

/** Why `rule` is not an address or CIDR range, or undefined when it is one. */
export function addressRuleProblem(rule: string): string | undefined {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(rule.trim());
  const what = `"${rule}" is not an address or CIDR range (such as 192.0.2.7, 10.0.0.0/8, ::1 or fd00::/8)`;
  if (!m) return what;
  const family = isIP(m[1]);
  if (family === 0) return what;
  if (m[2] !== undefined && Number(m[2]) > (family === 4 ? 32 : 128))
    return `"${rule}": the prefix length must be at most ${family === 4 ? 32 : 128}`;
  return undefined;
}

export class AddressAllowlist {
  readonly rules: readonly string[];
  private readonly list = new BlockList();

  /** Throws an Error naming the first invalid rule (the configuration checks them first). */
  constructor(rules: readonly string[]) {
    this.rules = rules.map((r) => r.trim());
    for (const r of this.rules) {
      const problem = addressRuleProblem(r);
      if (problem !== undefined) throw new Error(problem);
      const [addr, prefix] = r.split('/') as [string, string | undefined];
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(prefix), type);
    }
  }

  /** True when `address` (as a socket reports it) matches a rule. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}
