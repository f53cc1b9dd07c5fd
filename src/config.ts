import ipaddr from "ipaddr.js";
import { z } from "zod";
import { DEFAULT_DATABASE_URL } from "./db/database-url.js";

const bool = z
  .enum(["true", "false", "1", "0"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1");
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const url = z.url({ message: "must be a URL" });
/** A comma-separated list, trimmed and lower-cased; empty by default. */
const hostList = z
  .string()
  .default("")
  .transform((hosts) =>
    hosts
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );

function ipaddrCidr(entry: string): boolean {
  try {
    ipaddr.parseCIDR(entry);
    return true;
  } catch {
    return false;
  }
}

/**
 * The shortest event retention (EVENT_RETENTION_DAYS), in days: the longest look-back of an
 * agent's rules, so a retention changes no decision. An agent starts a new cycle with a consumer
 * quiet for quietDaysForNewCycle days, at most 365 (agents/agent-config.ts), which it tells from
 * the consumer's events and its earlier messages; frequency caps count messages over up to 90
 * days (creators/creator-service.ts).
 */
export const MIN_EVENT_RETENTION_DAYS = 365;

/** The longest event retention that is not "for ever" (0): a century, in days. */
export const MAX_EVENT_RETENTION_DAYS = 36_500;

/** Every setting comes from the environment; defaults work on a developer machine of ours. */
const configSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  HOST: z.string().default("0.0.0.0"),
  PORT: int(0, 65535).default(4000),
  DATABASE_URL: url.default(DEFAULT_DATABASE_URL),
  /**
   * A streaming replica of DATABASE_URL's database. Set: read-only GraphQL queries read from it
   * (README "Read replica"); unset: everything reads from DATABASE_URL.
   */
  DATABASE_READ_URL: url.optional(),
  /**
   * How far behind the read replica may fall, in ms of the primary's writes, before its reads go
   * to the primary until it catches up (db/reads.ts): below read-routing's 10-minute memory of a
   * key's writes.
   */
  DATABASE_READ_MAX_LAG_MS: int(1_000, 300_000).default(30_000),
  DATABASE_POOL_SIZE: int(1, 200).default(10),
  /** How long opening a database connection may take before the caller gets an outage error. */
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 60_000).default(3_000),
  /**
   * One URL (redis://, or rediss:// for TLS) for a single Redis; or the nodes of a Redis Cluster,
   * comma-separated (any few of them: the client learns the rest). See REDIS_CLUSTER.
   */
  REDIS_URL: z
    .string()
    .default("redis://127.0.0.1:6379")
    .refine((urls) => urls.split(",").every((node) => isRedisUrl(node.trim())), {
      message:
        "must be a URL such as redis://host:6379 (a database number at most as its path), or a Redis Cluster's nodes comma-separated, with no empty one",
    })
    .refine((urls) => redisNodeMismatch(urls) === null, {
      error: (issue) => redisNodeMismatch(String(issue.input)) ?? undefined,
    }),
  /**
   * Whether REDIS_URL names a Redis Cluster. Unset: it does when it lists several nodes; set true
   * for a cluster reached through one address (a managed service's configuration endpoint).
   */
  REDIS_CLUSTER: bool.optional(),
  /**
   * Namespace of BullMQ queues and pub/sub channels, so several deployments or test runs share one
   * Redis. Unset: the database's name (see loadConfig), so two databases never share queues by
   * default: a worker would take the other's jobs and find no rows for them.
   */
  REDIS_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_-]+$/, "letters, digits, _ and - only")
    .optional(),
  /**
   * The longest a command on a request's or a loop's path waits for Redis (rate limit, enqueue,
   * publish, revocation broadcast). While a connection is known to be down they do not wait at all.
   */
  REDIS_COMMAND_TIMEOUT_MS: int(10, 60_000).default(500),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),

  GRAPHQL_INTROSPECTION: bool.default(true),
  GRAPHQL_MAX_DEPTH: int(2, 50).default(12),
  GRAPHQL_MAX_COMPLEXITY: int(10).default(5000),
  GRAPHQL_MAX_BREADTH: int(5).default(200),
  GRAPHQL_MAX_ALIASES: int(1).default(20),
  GRAPHQL_MAX_TOKENS: int(100).default(20000),
  HTTP_BODY_LIMIT_BYTES: int(1024).default(1_048_576),
  /** Requests per API key (or per client address without a key) per window, refilled steadily (a token bucket). */
  RATE_LIMIT_MAX: int(1).default(1200),
  RATE_LIMIT_WINDOW_SECONDS: int(1, 3600).default(60),
  /**
   * Web origins (scheme://host[:port]) whose pages may use creator and admin keys, comma-separated,
   * e.g. the dashboard's. Ingest keys work from any page; the API's own origin (GraphiQL) always.
   */
  CORS_ALLOWED_ORIGINS: hostList,
  /** Signs the connection cursors the API hands out (scoped to the key's creator); the same on every API instance. */
  CURSOR_SIGNING_SECRET: z.string().min(16, "at least 16 characters").default("dev-cursor-signing-secret"),
  /** How long a verified API key is trusted without a lookup; revocations reach every instance at once anyway. 0 disables. */
  API_KEY_CACHE_MS: int(0, 300_000).default(30_000),

  AGENT_JOB_ATTEMPTS: int(1, 20).default(3),
  /** Delay before the first retry of a failed agent job; it doubles for each further try (the seed waits 60 s). */
  AGENT_RETRY_DELAY_MS: int(0).default(60_000),
  /**
   * Agent jobs one worker process runs at once; their steps are batched (agents/batcher.ts), so more
   * at once means larger batches. Backlog of 5,000 on 2 cores (bench, 2026-11-30): 32 gave 1,154
   * invocations/s, 64 gave 1,322/s (peak RSS 187 MB), 128 gave 1,484/s but 252 MB.
   */
  WORKER_CONCURRENCY: int(1, 500).default(64),
  DISPATCH_SWEEP_INTERVAL_MS: int(50).default(5_000),
  /** How long an ingestion waits for Redis to take its jobs before answering anyway (the sweeper enqueues later). */
  ENQUEUE_TIMEOUT_MS: int(10).default(1_000),
  /** How often workers check for jobs whose worker died (their lock expired), and how long a lock lasts. */
  WORKER_STALLED_INTERVAL_MS: int(100).default(30_000),
  WORKER_LOCK_DURATION_MS: int(100).default(30_000),
  WORKER_METRICS_PORT: int(0, 65535).default(9464),
  /** Events waiting for dispatch longer than this are enqueued by the sweeper. */
  DISPATCH_SWEEP_AGE_MS: int(0).default(2_000),
  /**
   * How long events are kept, in days from their receipt; 0 (the default) keeps them for ever. The
   * worker drops each month of events once all of it is older than this, with what refers to them:
   * their agent invocations and their idempotency keys (README "Event partitions and retention").
   * 0, or from MIN_EVENT_RETENTION_DAYS to MAX_EVENT_RETENTION_DAYS.
   */
  EVENT_RETENTION_DAYS: int(0, MAX_EVENT_RETENTION_DAYS)
    .refine(
      (days) => days === 0 || days >= MIN_EVENT_RETENTION_DAYS,
      `must be 0 (keep events for ever) or at least ${MIN_EVENT_RETENTION_DAYS}: agents read a consumer's events and messages that far back`,
    )
    .default(0),

  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: url.optional(),
  OPENAI_MODEL: z.string().min(1).default("gpt-5-nano-2025-08-07"),
  OPENAI_TIMEOUT_MS: int(100).default(60_000),
  OPENAI_MAX_RETRIES: int(0, 10).default(2),

  SCHEDULER_INTERVAL_MS: int(10).default(1_000),
  SCHEDULER_BATCH_SIZE: int(1, 5000).default(200),
  DELIVERY_MAX_ATTEMPTS: int(1, 20).default(3),
  /** Delay before the first retry of a failed send; it doubles for each further try. */
  DELIVERY_RETRY_DELAY_MS: int(0).default(30_000),
  /**
   * Sends one scheduler process runs at the same time; the send rules run for as many at once, so
   * more slots mean larger set-based batches. 5,000 actions due at once on 2 cores (bench,
   * 2026-11-30, against a plain-pg baseline of 950-1,060/s): 16 gave 369 actions/s, 32 608/s, 64
   * 599/s, 128 786/s (lateness p99 at half the baseline's rate 432, 165, 138, 72 ms).
   */
  DELIVERY_CONCURRENCY: int(1, 500).default(128),
  /**
   * How long a scheduler's claim on an action lasts without renewal. The owner renews it while the
   * action is in its hands (waiting in its batch, or in the provider call), so only an action whose
   * scheduler stopped outlives it: it is re-planned if its provider call never started, else failed.
   * Must be above PROVIDER_TIMEOUT_MS.
   */
  DELIVERY_LEASE_MS: int(1_000).default(300_000),
  /** Send-rate limit of each provider, shared by every worker (a token bucket in Redis); bursts up to one second's worth. */
  DELIVERY_RATE_EMAIL_PER_SECOND: z.coerce.number().positive().default(50),
  DELIVERY_RATE_WHATSAPP_PER_SECOND: z.coerce.number().positive().default(80),
  DELIVERY_RATE_WEBHOOK_PER_SECOND: z.coerce.number().positive().default(100),
  SMTP_URL: z.string().default("smtp://127.0.0.1:2525"),
  EMAIL_FROM: z.string().default("Closer <agent@closer.local>"),
  WHATSAPP_API_URL: url.default("http://127.0.0.1:8025/v19.0"),
  WHATSAPP_PHONE_NUMBER_ID: z.string().default("000000000000000"),
  WHATSAPP_TOKEN: z.string().default("dev-whatsapp-token"),
  WHATSAPP_APP_SECRET: z.string().default("dev-whatsapp-app-secret"),
  /** Answered back in Meta's GET handshake when the callback URL is registered. */
  WHATSAPP_VERIFY_TOKEN: z.string().min(1).default("dev-whatsapp-verify-token"),
  /** How long processed WhatsApp callback items (whatever their outcome) are kept for admins, from their arrival. */
  WHATSAPP_CALLBACK_RETENTION_DAYS: int(1).default(30),
  /**
   * How long the request (or sweep) processing a WhatsApp callback item holds it: one still pending
   * after that was left by a crash or an outage, and the worker's sweep takes it. Above the time a
   * large notification takes to process.
   */
  WHATSAPP_CALLBACK_CLAIM_MS: int(1_000).default(60_000),
  WEBHOOK_SIGNING_SECRET: z.string().min(16, "at least 16 characters").default("dev-webhook-signing-secret"),
  /** Restricts webhook actions to these hosts, comma-separated; empty allows any public host (internal ones: OUTBOUND_ALLOWED_HOSTS). */
  WEBHOOK_ALLOWED_HOSTS: hostList,
  PROVIDER_TIMEOUT_MS: int(100).default(10_000),
  /**
   * Internal hosts that agents, webhooks and providers may call on purpose: host names, IP
   * addresses or CIDR ranges, comma-separated. Everything else on this machine or a private,
   * link-local, multicast or unspecified address is refused.
   */
  OUTBOUND_ALLOWED_HOSTS: hostList.refine(
    (entries) => entries.every((e) => !e.includes("/") || ipaddrCidr(e)),
    "a range must be a CIDR such as 10.0.0.0/8",
  ),
});

/** The URLs REDIS_URL lists, in its order. */
export function redisNodes(redisUrl: string): string[] {
  return redisUrl
    .split(",")
    .map((node) => node.trim())
    .filter(Boolean);
}

function isRedisUrl(node: string): boolean {
  try {
    const { protocol, hostname, pathname } = new URL(node);
    return (protocol === "redis:" || protocol === "rediss:") && hostname !== "" && /^(\/\d*)?$/.test(pathname);
  } catch {
    return false;
  }
}

/**
 * What makes a node of REDIS_URL differ from the first in what the first decides for every node,
 * or null when none does (or REDIS_URL names one node, or holds something not a URL, reported
 * apart). A Cluster client opens every node it finds with the first node's scheme (rediss:// for
 * TLS) and credentials (redis.ts, clusterOptions), so another node's would be ignored, or used
 * for that node alone: a node may repeat the first's credentials or give none, not others.
 */
function redisNodeMismatch(redisUrl: string): string | null {
  const nodes = redisNodes(redisUrl);
  if (nodes.length < 2 || !nodes.every(isRedisUrl)) return null;
  const [first, ...others] = nodes.map((node) => new URL(node));
  for (const [index, node] of others.entries()) {
    const which = `node ${index + 2} (${node.host})`;
    if (node.protocol !== first.protocol) {
      return `${which} is ${node.protocol}// but the first is ${first.protocol}//, whose scheme applies to every node (rediss:// is TLS): give every node the same`;
    }
    const credentials = node.username !== "" || node.password !== "";
    if (credentials && (node.username !== first.username || node.password !== first.password)) {
      return `${which} gives other credentials than the first, whose credentials apply to every node: give every node the first's, or none`;
    }
  }
  return null;
}

/**
 * Rules between settings, each reported on the setting to change. `when` lets a rule run while
 * other settings are invalid (zod skips refinements of an object with issues otherwise), so every
 * problem is reported at once.
 */
const leaseRule = configSchema.pick({ DELIVERY_LEASE_MS: true, PROVIDER_TIMEOUT_MS: true });
const leaseChecked = configSchema.refine((c) => c.DELIVERY_LEASE_MS > c.PROVIDER_TIMEOUT_MS, {
  path: ["DELIVERY_LEASE_MS"],
  when: (payload) => leaseRule.safeParse(payload.value).success,
  error: (issue) =>
    `must be above PROVIDER_TIMEOUT_MS (${leaseRule.parse(issue.input).PROVIDER_TIMEOUT_MS}): a send still waiting on its provider would be taken for a stopped one`,
});

/** A rule's `when`: the settings it reads are valid themselves (the output holds them parsed). */
const redisValid = (payload: { issues: readonly { path?: PropertyKey[] }[] }) =>
  !payload.issues.some((issue) => issue.path?.[0] === "REDIS_URL" || issue.path?.[0] === "REDIS_CLUSTER");
const checkedConfigSchema = leaseChecked
  .refine((c) => c.REDIS_CLUSTER !== false || redisNodes(c.REDIS_URL).length === 1, {
    path: ["REDIS_CLUSTER"],
    when: redisValid,
    message: "REDIS_URL lists several nodes, which only a Redis Cluster has: give one URL for a single Redis",
  })
  .refine(
    (c) => !isCluster(c) || redisNodes(c.REDIS_URL).every((node) => ["", "/", "/0"].includes(new URL(node).pathname)),
    {
      path: ["REDIS_URL"],
      when: redisValid,
      message: "a Redis Cluster has database 0 only: remove the database number",
    },
  )
  .refine((c) => !isCluster(c) || redisNodes(c.REDIS_URL).every((node) => new URL(node).search === ""), {
    path: ["REDIS_URL"],
    when: redisValid,
    message:
      "a Redis Cluster's URLs take no options (?...): they would apply to the nodes named, not to those the client finds; remove them",
  });

/** Whether REDIS_URL names a Redis Cluster (see REDIS_CLUSTER). */
function isCluster(settings: Pick<z.infer<typeof configSchema>, "REDIS_URL" | "REDIS_CLUSTER">): boolean {
  return settings.REDIS_CLUSTER ?? redisNodes(settings.REDIS_URL).length > 1;
}

export type Config = Omit<z.infer<typeof configSchema>, "REDIS_PREFIX" | "REDIS_CLUSTER"> & {
  REDIS_PREFIX: string;
  REDIS_CLUSTER: boolean;
};

/** The default REDIS_PREFIX: the database's name, with what a prefix may not hold turned into "-". */
function prefixOfDatabase(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  return name.replace(/[^a-zA-Z0-9_-]/g, "-") || "closer";
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** Settings whose whole value is a secret (OPENAI_API_KEY, WHATSAPP_TOKEN, WEBHOOK_SIGNING_SECRET...). */
const SECRET_SETTING = /(^|_)(KEY|SECRET|TOKEN|PASSWORD)$/;

/**
 * A setting's value as a configuration error shows it (quoted): a secret setting's not at all,
 * and the credentials of the URLs in any other (`user:password@` of DATABASE_URL, REDIS_URL...)
 * redacted, since errors go to logs.
 */
function shownValue(name: string, value: string): string {
  if (SECRET_SETTING.test(name)) return "[redacted]";
  return JSON.stringify(redactUrlCredentials(value));
}

/**
 * `text` with the credentials of each URL in it replaced by `[redacted]`: everything from `//`
 * to the last `@` before the next comma or white space (a password may hold `/` or `@`; REDIS_URL
 * separates its nodes by commas). Redacts more than the credentials rather than less.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\/\/[^\s,]*@/g, "//[redacted]@");
}

/** Parses the environment; an empty variable counts as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = checkedConfigSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join(".");
        return `${name}=${shownValue(name, present[name] ?? "")}: ${issue.message}`;
      }),
    );
  }
  return {
    ...parsed.data,
    REDIS_PREFIX: parsed.data.REDIS_PREFIX ?? prefixOfDatabase(parsed.data.DATABASE_URL),
    REDIS_CLUSTER: isCluster(parsed.data),
  };
}

/** For process entries: a bad configuration stops the process with one line per problem. */
export function loadConfigOrExit(): void {
  try {
    loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

let current: Config | undefined;

/** The process's configuration, read once. */
export function config(): Config {
  current ??= loadConfig();
  return current;
}
