import { randomUUID } from "node:crypto";
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens";
import { useDisableIntrospection } from "@graphql-yoga/plugin-disable-introspection";
import { GraphQLError } from "graphql";
import { createYoga, isAsyncIterable, maskError, type Plugin } from "graphql-yoga";
import {
  AuthenticationError,
  authenticate,
  forgetRevokedKey,
  type RevokedKey,
  revocationChannel,
} from "../auth/api-keys.js";
import { forbiddenForIngestKey } from "../auth/ingest-selection.js";
import { endOnRevocation } from "../auth/live-streams.js";
import { refusedOrigin } from "../auth/origins.js";
import { RateLimiter } from "../auth/rate-limit.js";
import { config } from "../config.js";
import { pool } from "../db/client.js";
import { primaryReads } from "../db/reads.js";
import { DomainError } from "../errors.js";
import type { RequestContext } from "../graphql/context.js";
import {
  domainErrorToGraphQL,
  forbidden,
  rateLimited,
  serviceUnavailable,
  unauthenticated,
  withCode,
} from "../graphql/errors.js";
import { logger } from "../logger.js";
import { graphqlDuration, registry } from "../observability/metrics.js";
import { opsConsole } from "../ops/console.js";
import { isOutage } from "../outages.js";
import { livePubSub } from "../pubsub.js";
import { closeRedis, createCommandRedis, noteCommandFailure, type RedisClient, redisDown } from "../redis.js";
import { whatsAppCallbacks } from "../whatsapp/callbacks.js";
import { GRAPHIQL_WELCOME, graphiqlCaching, graphiqlPage } from "./graphiql.js";
import { readRouting } from "./read-routing.js";
import { refuseBeforeRunning, refuseUnstorableText, requestFraming } from "./request-guards.js";
import { schema } from "./schema.js";
import { scopedCursors } from "./scoped-cursors.js";

/** Depth of graphql-js's getIntrospectionQuery() with fragments flattened. */
const INTROSPECTION_QUERY_DEPTH = 15;

/** How often a run of requests failing on an outage is logged. */
const OUTAGE_LOG_INTERVAL_MS = 10_000;
let lastOutageLog = 0;

type ServerContext = {
  request: Request;
  /** Set for graphql-ws operations: the key the socket was opened with (see http-server.ts). */
  authorization?: string | null;
  clientAddress?: string;
};

function authorizationOf(ctx: ServerContext): string | null {
  if (ctx.authorization !== undefined) return ctx.authorization;
  return ctx.request.headers.get("authorization");
}

async function buildContext(ctx: ServerContext, limiter: RateLimiter): Promise<RequestContext> {
  let viewer: RequestContext["viewer"];
  try {
    viewer = await authenticate(authorizationOf(ctx));
  } catch (error) {
    if (error instanceof AuthenticationError) throw unauthenticated(error.message);
    throw error;
  }
  // graphql-ws checks the origin when the socket opens (http-server.ts); over HTTP, here.
  if (ctx.authorization === undefined) {
    const origin = ctx.request.headers.get("origin");
    const host = ctx.request.headers.get("host");
    const refused = refusedOrigin(viewer, origin, host, config().CORS_ALLOWED_ORIGINS);
    if (refused) throw forbidden(refused);
  }
  const bucket = viewer ? `key:${viewer.keyId}` : `addr:${ctx.clientAddress ?? "unknown"}`;
  const verdict = await limiter.consume(bucket);
  if (!verdict.allowed) throw rateLimited(verdict.retryAfterSeconds);
  return { viewer, requestId: randomUUID(), ingested: new Set(), ingestedConsumers: new Set(), reads: primaryReads };
}

/** /ready answers 200 only when PostgreSQL and Redis answer; /metrics serves Prometheus text. */
function operationalEndpoints(redis: RedisClient): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === "/ready") {
        const checks = await Promise.allSettled([
          pool.query("SELECT 1"),
          redisDown(redis)
            ? Promise.reject(new Error("Redis unavailable"))
            : redis.ping().catch((error) => {
                noteCommandFailure(redis, error);
                throw error;
              }),
        ]);
        const [database, queue] = checks.map((c) => (c.status === "fulfilled" ? "ok" : "unavailable"));
        const ready = database === "ok" && queue === "ok";
        endResponse(
          new fetchAPI.Response(JSON.stringify({ status: ready ? "ready" : "not ready", database, redis: queue }), {
            status: ready ? 200 : 503,
            headers: { "content-type": "application/json" },
          }),
        );
      } else if (url.pathname === "/metrics") {
        endResponse(
          new fetchAPI.Response(await registry.metrics(), { headers: { "content-type": registry.contentType } }),
        );
      }
    },
  };
}

/** Ingest keys may select only what forbiddenForIngestKey allows, checked before anything runs. */
function limitIngestKeys(): Plugin {
  return refuseBeforeRunning((args) => {
    const viewer = (args.contextValue as unknown as RequestContext).viewer;
    if (viewer?.kind !== "INGEST") return null;
    const field = forbiddenForIngestKey(args.schema, args.document);
    return field ? forbidden(`An ingest key may not select ${field}`) : null;
  });
}

/** Every subscription stream ends, with an UNAUTHENTICATED error, as soon as its key is revoked. */
function endStreamsOnRevocation(): Plugin<Record<string, unknown>, RequestContext> {
  return {
    onSubscribe({ args }) {
      const keyId = (args.contextValue as unknown as RequestContext).viewer?.keyId;
      if (!keyId) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const stream = endOnRevocation(result, keyId, {
            errors: [unauthenticated("This API key has been revoked: the subscription has ended")],
          });
          // An SSE request aborted while the subscription was being set up gets no response, so
          // nothing would ever cancel its stream: end it with the request.
          const signal = (args.contextValue as unknown as { request?: { signal?: AbortSignal } }).request?.signal;
          if (signal) {
            if (signal.aborted) void stream.return?.();
            else signal.addEventListener("abort", () => void stream.return?.(), { once: true });
          }
          setResult(stream);
        },
      };
    },
  };
}

function requestTiming(): Plugin {
  return {
    onExecute({ args }) {
      const end = graphqlDuration.startTimer({ operation: args.operationName ?? "anonymous" });
      return { onExecuteDone: () => void end() };
    },
  };
}

/**
 * The code of an error raised about the request itself, by graphql-js or a plugin (a variable of
 * the wrong type, an ID of another type, an invalid cursor or argument, a query limit), not by a
 * failure: BAD_USER_INPUT or QUERY_LIMIT_EXCEEDED, the client's to fix. Null for anything else.
 */
function requestErrorCode(error: unknown): "BAD_USER_INPUT" | "QUERY_LIMIT_EXCEEDED" | null {
  if (!(error instanceof GraphQLError)) return null;
  if (error.originalError && !(error.originalError instanceof GraphQLError)) return null;
  // graphql-armor's depth, alias and token limits say so in their message only.
  return /limit of \d+ exceeded/.test(error.message) ? "QUERY_LIMIT_EXCEEDED" : "BAD_USER_INPUT";
}

/**
 * The GraphQL server and its HTTP endpoints (/graphql, /ready, /metrics, the WhatsApp callbacks,
 * the ops console at /ops), built without I/O: Redis is connected at the first command it serves
 * (lazily), so a test may call `yoga.fetch` in process. `followRevocations` subscribes to keys revoked through other
 * instances (the HTTP server calls it when it listens); `close` ends both.
 */
export function createYogaServer() {
  const settings = config();
  // Outages are also reported by /ready; the rate limiter fails open meanwhile.
  const redis = createCommandRedis("closer-api", { lazyConnect: true });
  const limiter = new RateLimiter(redis);
  let revocations: Promise<number> | null = null;
  const yoga = createYoga<ServerContext, RequestContext>({
    schema,
    graphqlEndpoint: "/graphql",
    // Any page may call the API (landing pages send events with ingest keys); which keys a page
    // may use is decided per request (auth/origins.ts). No cookies are involved: credentials off.
    cors: (request) => ({
      origin: request.headers.get("origin") ?? "*",
      credentials: false,
      methods: ["GET", "POST", "OPTIONS"],
      allowedHeaders: ["authorization", "content-type", "accept"],
      maxAge: 600,
    }),
    // The body limit is requestFraming's (HTTP_BODY_LIMIT_BYTES on Content-Length, required on every
    // POST; a chunked body is read up to the limit first, in http-server.ts), and Node's HTTP parser
    // never reads past a Content-Length: Yoga's own limit, which pipes every body through a
    // counting TransformStream (a stream pipeline and an AbortController per request), adds nothing.
    maxRequestBodySize: false,
    healthCheckEndpoint: "/health",
    landingPage: false,
    // GraphiQL runs subscriptions over SSE, so the Authorization header set in its headers tab applies.
    graphiql: {
      title: "Closer",
      defaultQuery: GRAPHIQL_WELCOME,
      // The tab where the key goes, open from the start.
      defaultEditorToolsVisibility: "headers",
    },
    // Its scripts and styles come from the installed package, inlined in the page: no CDN, so it
    // works where browsers cannot reach one. The page (~9 MB) is rendered once, not per request.
    renderGraphiQL: graphiqlPage,
    logging: {
      debug: (...args) => logger.debug({ args }, "yoga"),
      info: (...args) => logger.info({ args }, "yoga"),
      warn: (...args) => logger.warn({ args }, "yoga"),
      // Yoga logs the original of every masked error. An outage's are said by maskError already,
      // and an error about the request (an ID of another type, a bad cursor, a ValidationError
      // raised outside a result union...) is the client's, answered with its code: neither is a
      // server error to page anyone about.
      error: (...args) => {
        const first = args[0] as { originalError?: unknown } | undefined;
        const original = first?.originalError ?? first;
        const clients = original instanceof DomainError || requestErrorCode(first) !== null;
        if (isOutage(original) || clients) logger.debug({ args }, "yoga");
        else logger.error({ args }, "yoga");
      },
    },
    context: (ctx) => buildContext(ctx, limiter),
    maskedErrors: {
      maskError(error, message, isDev) {
        const original = (error as { originalError?: unknown }).originalError;
        if (original instanceof DomainError) return domainErrorToGraphQL(original);
        if (isOutage(original ?? error)) {
          // Every request fails alike during an outage: a line every OUTAGE_LOG_INTERVAL_MS at most.
          if (Date.now() - lastOutageLog > OUTAGE_LOG_INTERVAL_MS) {
            lastOutageLog = Date.now();
            logger.warn({ err: original ?? error }, "requests failing: a dependency is unavailable");
          }
          return serviceUnavailable();
        }
        if (error instanceof GraphQLError) {
          if (error.extensions?.code) return error;
          const code = requestErrorCode(error);
          if (code) return withCode(error, code);
        }
        logger.error({ err: original ?? error }, "unexpected error");
        return maskError(error, message, isDev);
      },
    },
    plugins: [
      // First: it answers /ops alone and reads no body, so a POST there is a 405, not a framing error.
      opsConsole(),
      requestFraming(settings.HTTP_BODY_LIMIT_BYTES, "/graphql"),
      operationalEndpoints(redis),
      whatsAppCallbacks(),
      graphiqlCaching(),
      requestTiming(),
      refuseUnstorableText(),
      scopedCursors(settings.CURSOR_SIGNING_SECRET),
      limitIngestKeys(),
      endStreamsOnRevocation(),
      readRouting(redis),
      maxAliasesPlugin({ n: settings.GRAPHQL_MAX_ALIASES }),
      // Query depth is limited by the complexity plugin, which does not see introspection; this
      // bounds introspection too (its cycles, fields { type { fields ... } }, nest without end), at
      // the depth of the standard introspection query GraphiQL and codegen send.
      maxDepthPlugin({
        n: Math.max(settings.GRAPHQL_MAX_DEPTH, INTROSPECTION_QUERY_DEPTH),
        ignoreIntrospection: false,
        flattenFragments: true,
      }),
      maxTokensPlugin({ n: settings.GRAPHQL_MAX_TOKENS }),
      ...(settings.GRAPHQL_INTROSPECTION ? [] : [useDisableIntrospection()]),
    ],
  });
  return {
    yoga,
    /** Keys revoked through any instance are forgotten here at once. */
    followRevocations: () => {
      revocations ??= livePubSub().subscribe(revocationChannel(), (revoked: RevokedKey) => forgetRevokedKey(revoked));
      revocations.catch((error) =>
        logger.warn({ err: error }, "revocation feed unavailable; cached keys expire on their own"),
      );
    },
    close: async () => {
      // Not awaited: with Redis away the subscription never completed, and shutdown must not wait.
      revocations?.then(
        (id) => livePubSub().unsubscribe(id),
        () => {},
      );
      await closeRedis(redis);
    },
  };
}
