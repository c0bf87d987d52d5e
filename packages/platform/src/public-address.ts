import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";

/**
 * Addresses a webhook may not be sent to (SSRF): private, loopback, link-local, shared, multicast,
 * reserved and unspecified ranges, IPv4 and IPv6 (IPv4-mapped IPv6 is checked as its IPv4).
 */
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  NON_PUBLIC.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["64:ff9b::", 96],
  ["2001:db8::", 32],
] as const)
  NON_PUBLIC.addSubnet(net, prefix, "ipv6");

/** Whether an IP address (v4 or v6 text) is one a webhook may be sent to. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return isPublicAddress(mapped[1] as string);
    return !NON_PUBLIC.check(address, "ipv6");
  }
  return !NON_PUBLIC.check(address, "ipv4");
}

/** Every address a host name resolves to (an IP literal is itself). */
export async function resolveHost(host: string): Promise<string[]> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(bare)) return [bare];
  const addresses = await new Promise<LookupAddress[]>((resolve, reject) =>
    dnsLookup(bare, { all: true }, (err, found) => (err ? reject(err) : resolve(found))),
  );
  return addresses.map((a) => a.address);
}

/** Why a URL may not be a webhook target, or undefined when every address it resolves to is public. */
export async function nonPublicTarget(url: string): Promise<string | undefined> {
  let addresses: string[];
  try {
    addresses = await resolveHost(new URL(url).hostname);
  } catch (err) {
    return `the host does not resolve: ${(err as Error).message}`;
  }
  if (addresses.length === 0) return "the host does not resolve";
  const refused = addresses.find((a) => !isPublicAddress(a));
  return refused === undefined ? undefined : `the host resolves to ${refused}, which is not a public address`;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for node:http(s) requests that refuses non-public addresses: the check is made on
 * the addresses the socket then connects to, so a DNS answer that changes between a check and the
 * connection (rebinding) cannot slip through.
 */
export function publicOnlyLookup(
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: LookupCallback,
): void {
  dnsLookup(hostname, { ...options, all: true } as { all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused) {
      const e: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${refused.address}, not a public address`);
      e.code = "WEBHOOK_TARGET_FORBIDDEN";
      return callback(e, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
}
