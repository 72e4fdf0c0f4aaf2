/**
 * The egress policy (DESIGN.md, "Outbound calls go only where the provider
 * lives"): a provider call goes over https, to one of the provider's
 * documented hosts (its `ProviderDefinition.egress`), on the default port,
 * without credentials in the URL, and never to an address inside the
 * network. This module holds the rules that can be decided from the URL;
 * the resolved address is checked again at connect time (egress-transport.ts)
 * and redirects off the origin are refused by the guard (egress.ts).
 *
 * Two modes. `strict` — the Azure profile and the default everywhere.
 * `sandbox` (EGRESS_ALLOW_LOCAL=sandbox, refused by the Azure profile) also
 * lets calls reach loopback addresses written as IP literals, over http or
 * https, whatever the provider's hosts: that is how the local sandboxes on
 * 127.0.0.1 are reached. Names still have to be documented hosts, and
 * private, link-local and metadata addresses stay closed.
 */
import { UnrecoverableError } from '../errors';
import { addressRefusal, bareAddress, isAddressLiteral } from './egress-address';

export type EgressMode = 'strict' | 'sandbox';

/** Which rule refused a URL: named in 400 reasons and error messages. */
export type EgressRule = 'scheme' | 'userinfo' | 'address' | 'host' | 'port' | 'redirect';

export interface EgressRefusal {
  rule: EgressRule;
  reason: string;
}

/** A provider call the policy refused. Never retried: the same URL is refused again. */
export class EgressRefusedError extends UnrecoverableError {
  constructor(readonly rule: EgressRule, message: string) {
    super(message);
  }
}

export interface EgressPolicy {
  readonly mode: EgressMode;
  /** Why `url` may not be called when `hosts` are the allowed ones; undefined when it may. */
  refusal(url: URL, hosts: readonly string[]): EgressRefusal | undefined;
  /** Why a connection to this resolved address is refused; undefined when it may go ahead. */
  addressRefusal(address: string): string | undefined;
}

export function egressPolicy(mode: EgressMode): EgressPolicy {
  const loopbackOpen = mode === 'sandbox';
  return {
    mode,
    refusal: (url, hosts) => urlRefusal(url, hosts, loopbackOpen),
    addressRefusal: (address) => addressRefusal(address, loopbackOpen),
  };
}

/** The policy when nothing says otherwise: fail closed. */
export const STRICT_EGRESS: EgressPolicy = egressPolicy('strict');

function urlRefusal(url: URL, hosts: readonly string[], loopbackOpen: boolean): EgressRefusal | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { rule: 'scheme', reason: 'only https URLs are allowed' };
  if (url.username !== '' || url.password !== '') return { rule: 'userinfo', reason: 'a URL must not carry a user name or password' };
  const host = url.hostname;
  if (isAddressLiteral(host)) {
    // The URL parser has already turned 2130706433, 0x7f.1 and 017700000001 into 127.0.0.1.
    const refused = addressRefusal(host, loopbackOpen);
    if (refused !== undefined) return { rule: 'address', reason: `${bareAddress(host)} is ${refused} (no loopback, private, link-local or metadata addresses)` };
    // Only the sandbox setting gets here: a loopback literal, over http or https, on any port.
    if (loopbackOpen) return undefined;
  }
  if (url.protocol !== 'https:') return { rule: 'scheme', reason: 'only https URLs are allowed' };
  if (!hostAllowed(host, hosts)) {
    return { rule: 'host', reason: `${host} is not one of the provider's hosts (${hosts.length > 0 ? hosts.join(', ') : 'none declared'})` };
  }
  if (url.port !== '') return { rule: 'port', reason: 'only the default https port is allowed' };
  return undefined;
}

/**
 * `host` against patterns: an exact name, or `*.example.com` for any name
 * under example.com (never example.com itself). A trailing dot names the
 * same host, so it is ignored.
 */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  const name = normalise(host);
  if (name === '' || isAddressLiteral(name)) return false;
  return patterns.some((raw) => {
    const pattern = normalise(raw);
    if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
    return name === pattern;
  });
}

function normalise(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Throw the refusal of `url` as an EgressRefusedError labelled `label` (e.g. "GitHub"). */
export function assertEgress(policy: EgressPolicy, url: URL, hosts: readonly string[], label: string): void {
  const refused = policy.refusal(url, hosts);
  if (refused) throw new EgressRefusedError(refused.rule, `${label}: egress refused (${refused.rule}): ${refused.reason}`);
}
