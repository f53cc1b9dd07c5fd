// Which failures mean "a dependency is away" (PostgreSQL or Redis unreachable, restarting, or
// a connection dropped) rather than "this work is wrong". An outage is retried until the
// dependency is back; it never dead-letters work and is answered SERVICE_UNAVAILABLE.

/** Socket-level failures (Node's errno codes) of a connection to PostgreSQL or Redis. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * PostgreSQL SQLSTATEs of an unavailable server (PostgreSQL docs, Appendix A): class 08
 * (connection exception) is matched by prefix; 57P01 admin_shutdown, 57P02 crash_shutdown,
 * 57P03 cannot_connect_now (starting up, in recovery), 53300 too_many_connections.
 */
const SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);

/**
 * Prisma's codes for an unreachable database (Prisma error reference): P1001 can't reach,
 * P1002 timed out, P1008 operation timed out, P1017 server closed the connection, P2024 timed
 * out fetching a connection from the pool.
 */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);

/** @prisma/driver-adapter-utils' error kinds for a lost or refused connection. */
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);

/** Messages of node-postgres, ioredis, BullMQ and Redis Cluster that carry no code. */
const MESSAGES = [
  /Connection terminated/i,
  /Client has encountered a connection error and is not queryable/i,
  /Connection is closed/i,
  /Stream isn't writeable/i,
  /Command timed out/i,
  /Reached the max retries per request limit/i,
  /Redis unavailable/i,
  // A Redis Cluster failing over or resharding (cluster spec): a slot without a master yet, keys
  // being moved, a blocking command released as its master became a replica, a write that reached
  // a master just demoted; and ioredis' Cluster when no node answers, or when its retries of
  // CLUSTERDOWN and TRYAGAIN ran out.
  /^(CLUSTERDOWN|TRYAGAIN|UNBLOCKED|READONLY) /,
  /Too many Cluster redirections/i,
  /Failed to refresh slots cache/i,
  /None of startup nodes is available/i,
];

type ErrorLike = {
  code?: unknown;
  message?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: string; code?: string } } };
};

/**
 * True when `error` says PostgreSQL or Redis could not be reached or dropped the connection:
 * errors raised by pg, Prisma (and the driver-adapter error it wraps), ioredis and BullMQ.
 * Causes are not followed on purpose: a call to someone else's server (an external agent, the
 * OpenAI API, a provider) fails with the same socket codes in its `cause`, and that is the
 * other party's failure, retried and dead-lettered as usual, not an outage of ours.
 */
export function isOutage(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const e = error as ErrorLike;
  const code = typeof e.code === "string" ? e.code : "";
  if (SOCKET_CODES.has(code) || SQLSTATES.has(code) || PRISMA_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) {
    return true;
  }
  const adapter = e.meta?.driverAdapterError?.cause;
  if (adapter && (ADAPTER_KINDS.has(adapter.kind ?? "") || SQLSTATES.has(adapter.code ?? ""))) return true;
  return typeof e.message === "string" && MESSAGES.some((m) => m.test(e.message as string));
}

/** How long a client is told to wait before retrying during an outage (Retry-After, seconds). */
export const OUTAGE_RETRY_AFTER_SECONDS = 5;
