/**
 * Which IP addresses a provider call may connect to. Everything that is not
 * a public unicast address is refused: a base URL, an instance URL or a DNS
 * answer pointing inside the network (Redis on 127.0.0.1:6379, the instance
 * metadata service, a private subnet) must never receive a request, let
 * alone a provider token. The check runs on the address actually connected
 * (see egress-transport.ts), so a name that resolves inside is refused too.
 *
 * Ranges from the IANA special-purpose registries:
 * https://www.iana.org/assignments/iana-ipv4-special-registry
 * https://www.iana.org/assignments/iana-ipv6-special-registry
 */
import { BlockList, isIP } from 'node:net';

export type AddressClass =
  | 'metadata'
  | 'loopback'
  | 'unspecified'
  | 'private'
  | 'link-local'
  | 'ipv4-mapped'
  | 'ipv4-embedding'
  | 'multicast'
  | 'reserved'
  | 'unparseable';

type Range = readonly [address: string, prefix: number];

/**
 * Checked in this order, so the most specific name wins (169.254.169.254 is
 * "metadata", not just "link-local"; ::1 is "loopback", not "ipv4-embedding").
 */
const CLASSES: readonly (readonly [AddressClass, readonly Range[], readonly Range[]])[] = [
  // Cloud instance metadata / host agents: AWS, GCP, Azure IMDS (169.254.169.254), Azure's wireserver
  // (168.63.129.16, a public address that is the platform on every Azure host), Alibaba, AWS over IPv6.
  ['metadata', [['169.254.169.254', 32], ['168.63.129.16', 32], ['100.100.100.200', 32]], [['fd00:ec2::254', 128]]],
  ['loopback', [['127.0.0.0', 8]], [['::1', 128]]],
  // 0.0.0.0 connects to the local host on Linux.
  ['unspecified', [['0.0.0.0', 8]], [['::', 128]]],
  [
    'private',
    [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['100.64.0.0', 10]],
    [['fc00::', 7], ['fec0::', 10]],
  ],
  ['link-local', [['169.254.0.0', 16]], [['fe80::', 10]]],
  // IPv4-compatible, NAT64, 6to4 and Teredo addresses carry an IPv4 address a gateway may reach.
  ['ipv4-embedding', [], [['::', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['2002::', 16], ['2001::', 32]]],
  ['multicast', [['224.0.0.0', 4]], [['ff00::', 8]]],
  [
    'reserved',
    [['192.0.0.0', 24], ['192.0.2.0', 24], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['240.0.0.0', 4]],
    [['100::', 64], ['2001:db8::', 32]],
  ],
];

const LISTS: readonly (readonly [AddressClass, BlockList])[] = CLASSES.map(([name, v4, v6]) => {
  const list = new BlockList();
  for (const [address, prefix] of v4) list.addSubnet(address, prefix, 'ipv4');
  for (const [address, prefix] of v6) list.addSubnet(address, prefix, 'ipv6');
  return [name, list] as const;
});

/**
 * An IPv6 spelling of an IPv4 address would let 127.0.0.1 in as
 * [::ffff:7f00:1]. Checked on its own, and only for IPv6 input: BlockList
 * matches every IPv4 address against an IPv6 rule for ::ffff:0:0/96.
 */
const MAPPED = new BlockList();
MAPPED.addSubnet('::ffff:0:0', 96, 'ipv6');

/** `[::1]` (a URL's hostname) → `::1`; a zone id (`fe80::1%eth0`) is dropped. */
export function bareAddress(host: string): string {
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const zone = unbracketed.indexOf('%');
  return zone === -1 ? unbracketed : unbracketed.slice(0, zone);
}

/** True when `host` (a URL hostname, brackets allowed) is an IP address literal. */
export function isAddressLiteral(host: string): boolean {
  return isIP(bareAddress(host)) !== 0;
}

/** The special class of an address, or undefined for a public unicast address. */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = bareAddress(address);
  const family = isIP(bare);
  if (family === 0) return 'unparseable';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (type === 'ipv6' && MAPPED.check(bare, 'ipv6')) return 'ipv4-mapped';
  for (const [name, list] of LISTS) {
    if (list.check(bare, type)) return name;
  }
  return undefined;
}

/**
 * Why a connection to `address` is refused, or undefined when it may go
 * ahead. `allowLoopback` is the local sandbox setting (the sandboxes listen
 * on 127.0.0.1); nothing else inside is ever allowed.
 */
export function addressRefusal(address: string, allowLoopback: boolean): string | undefined {
  const kind = classifyAddress(address);
  if (kind === undefined || (kind === 'loopback' && allowLoopback)) return undefined;
  return `${kind === 'unparseable' ? 'an unparseable' : `a ${kind}`} address`;
}
