import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { Agent, type RequestInit as UndiciRequestInit, fetch as undiciFetch } from "undici";
import { config } from "../config.js";

// The one HTTP client for every request Closer makes on a creator's behalf (external agents,
// webhooks, providers): creators choose those URLs, so none may reach this machine or its
// network. Only public unicast addresses are called; the check runs on the addresses a
// connection actually uses (DNS answers are checked at connect time, so a name that resolves
// to a public address when deployed and to 127.0.0.1 later is still refused), and redirects are
// never followed. Operators admit internal hosts on purpose with an allow-list.

/** Schemes a URL that Closer calls, or puts in a message, may have. */
export const WEB_SCHEMES = new Set(["http:", "https:"]);

/**
 * Hosts admitted even when internal: exact host names (lower case), IP addresses, or CIDR ranges
 * ("10.0.0.0/8", "fd00::/8"), e.g. an operator's own services.
 */
export type OutboundAllowList = { names: Set<string>; ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] };

/** Parses a comma-separated allow-list; throws on an entry that is neither a name, an address nor a CIDR. */
export function parseAllowList(entries: string[]): OutboundAllowList {
  const list: OutboundAllowList = { names: new Set(), ranges: [] };
  for (const raw of entries) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/^\[|\]$/g, "");
    if (!entry) continue;
    if (entry.includes("/")) list.ranges.push(ipaddr.parseCIDR(entry));
    else if (ipaddr.isValid(entry))
      list.ranges.push([ipaddr.process(entry), ipaddr.process(entry).kind() === "ipv4" ? 32 : 128]);
    else list.names.add(entry);
  }
  return list;
}

/** Refusal of a destination: the request never left this machine. */
export class BlockedDestinationError extends Error {
  readonly code = "ERR_BLOCKED_DESTINATION";
}

/** The refusal behind a failed request (fetch wraps its connection errors in `cause`), or null. */
export function refusalOf(error: unknown): BlockedDestinationError | null {
  if (error instanceof BlockedDestinationError) return error;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause instanceof BlockedDestinationError ? cause : null;
}

/**
 * Why `address` may not be called, or null when it may: only public unicast addresses (ipaddr.js
 * ranges; IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry) unless allow-listed.
 */
export function refusedAddress(address: string, allow: OutboundAllowList): string | null {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  const ip = ipaddr.process(address);
  if (allow.ranges.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits))) return null;
  const range = ip.range();
  return range === "unicast" ? null : `${address} is a ${range} address`;
}

function hostOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
}

/**
 * Checks a URL before it is stored (an agent's endpoint): scheme http or https, a host, and every
 * address the host resolves to now is allowed. Returns the reason for a refusal, or null.
 */
export async function refusedUrl(raw: string, allow: OutboundAllowList): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute http or https URL";
  }
  if (!WEB_SCHEMES.has(url.protocol)) return `must use http or https, not ${url.protocol.replace(/:$/, "")}`;
  const host = hostOf(url);
  if (!host) return "must name a host";
  if (url.username || url.password) return "must not carry credentials";
  if (allow.names.has(host)) return null;
  if (isIP(host)) return refusedAddress(host, allow);
  const addresses = await new Promise<LookupAddress[] | null>((resolve) =>
    dnsLookup(host, { all: true }, (error, found) => resolve(error ? null : found)),
  );
  if (!addresses || addresses.length === 0) return `host ${host} does not resolve`;
  for (const { address } of addresses) {
    const refused = refusedAddress(address, allow);
    if (refused) return `host ${host} resolves to ${refused}`;
  }
  return null;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A dns.lookup for net.connect that fails when any address it would hand back is refused. */
function guardedLookup(allow: OutboundAllowList) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      if (!allow.names.has(hostname.toLowerCase())) {
        for (const { address } of addresses) {
          const refused = refusedAddress(address, allow);
          if (refused) return callback(new BlockedDestinationError(`refused: ${hostname} resolves to ${refused}`), []);
        }
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

export type GuardedRequest = {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
};

/** The client; one per process is enough (it pools connections per origin). */
export class GuardedHttpClient {
  private readonly dispatcher: Agent;

  constructor(private readonly allow: OutboundAllowList) {
    this.dispatcher = new Agent({ connect: { lookup: guardedLookup(allow) as never } });
  }

  /**
   * Sends one request. Rejects with BlockedDestinationError for a URL that is not http(s), an IP
   * literal that is refused, or a host resolving to a refused address (no byte was sent), and with
   * undici's errors for the rest (timeouts as a TimeoutError). A 3xx answer is returned as it is:
   * redirects are never followed.
   */
  async request(raw: string, request: GuardedRequest): Promise<Response> {
    const url = new URL(raw);
    if (!WEB_SCHEMES.has(url.protocol))
      throw new BlockedDestinationError(`refused: ${url.protocol} URLs are not called`);
    const host = hostOf(url);
    // net.connect does not look an IP literal up: it is judged here.
    if (isIP(host)) {
      const refused = refusedAddress(host, this.allow);
      if (refused) throw new BlockedDestinationError(`refused: ${refused}`);
    }
    const init: UndiciRequestInit = {
      method: request.method ?? "POST",
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.timeout(request.timeoutMs),
      dispatcher: this.dispatcher,
    };
    return (await undiciFetch(url, init)) as unknown as Response;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

let shared: GuardedHttpClient | undefined;

/** The process's client for URLs creators choose (agents, webhooks): OUTBOUND_ALLOWED_HOSTS admits internal hosts. */
export function outboundHttp(): GuardedHttpClient {
  shared ??= new GuardedHttpClient(outboundAllowList());
  return shared;
}

/**
 * OUTBOUND_ALLOWED_HOSTS, plus the hosts of `operatorUrls`: a provider endpoint the operator
 * configured (WHATSAPP_API_URL) is called wherever it is, by that provider's client only.
 */
export function outboundAllowList(operatorUrls: string[] = []): OutboundAllowList {
  return parseAllowList([...config().OUTBOUND_ALLOWED_HOSTS, ...operatorUrls.map((u) => new URL(u).hostname)]);
}
