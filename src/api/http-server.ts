import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type DocumentNode, type ExecutionArgs, GraphQLError } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import { AuthenticationError, authenticate } from "../auth/api-keys.js";
import { refusedOrigin } from "../auth/origins.js";
import { config } from "../config.js";
import { withCode } from "../graphql/errors.js";
import { logger } from "../logger.js";
import { closeSharedConnections } from "../shutdown.js";
import { errorBody } from "./request-guards.js";
import { createYogaServer } from "./yoga.js";

const SHUTDOWN_GRACE_MS = 5_000;

/** graphql-ws close codes: 4401 and 4403 as the protocol's own Unauthorized and Forbidden; 1013 Try Again Later (RFC 6455 registry). */
const WS_UNAUTHORIZED = 4401;
const WS_FORBIDDEN = 4403;
const WS_TRY_AGAIN_LATER = 1013;

type EnvelopedArgs = ExecutionArgs & {
  rootValue: { execute: (a: unknown) => unknown; subscribe: (a: unknown) => unknown };
};

/**
 * A body sent without a length (chunked) is read here up to the body limit, then handed to Yoga
 * with its length, as any other request; past the limit it is refused (413) without reading more.
 */
async function handleUnsizedBody(
  yoga: ReturnType<typeof createYogaServer>["yoga"],
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      const body = errorBody(`Request body exceeds ${limit} bytes`, "PAYLOAD_TOO_LARGE");
      res.writeHead(413, { "content-type": "application/json; charset=utf-8", connection: "close" }).end(body);
      req.destroy();
      return;
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === "transfer-encoding" || value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  headers.set("content-length", String(body.length));
  const controller = new AbortController();
  res.once("close", () => controller.abort());
  const response = await yoga.fetch(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, {
    method: req.method,
    headers,
    body,
    signal: controller.signal,
  });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  try {
    // Streamed as it comes: an SSE subscription's answer never ends by itself.
    for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
      if (!res.write(chunk)) await once(res, "drain");
    }
  } catch (error) {
    logger.debug({ err: error }, "answer to a chunked request ended early");
  }
  res.end();
}

/** The API process: GraphQL over HTTP and SSE at /graphql, and over WebSocket (graphql-ws) on the same path. */
export async function startApiServer(port: number, host = "127.0.0.1") {
  const { yoga, followRevocations, close: closeYoga } = createYogaServer();
  followRevocations();
  const bodyLimit = config().HTTP_BODY_LIMIT_BYTES;
  const server = createServer((req, res) => {
    if (req.headers["content-length"] === undefined && req.headers["transfer-encoding"] !== undefined) {
      handleUnsizedBody(yoga, req, res, bodyLimit).catch((error) => {
        logger.error({ err: error }, "chunked request failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        res.end(errorBody("Unexpected error.", "INTERNAL_SERVER_ERROR"));
      });
      return;
    }
    void yoga(req, res);
  });
  // Requests Node's HTTP parser refuses (malformed framing, headers over its limit) get the same
  // GraphQL-shaped answer as any other refusal, then the connection closes (Node's documented pattern).
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = error.code === "HPE_HEADER_OVERFLOW";
    const body = tooLarge
      ? errorBody("Request headers too large", "HEADERS_TOO_LARGE")
      : errorBody(`Malformed HTTP request (${error.code ?? "parse error"})`, "BAD_REQUEST");
    socket.end(
      `HTTP/1.1 ${tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
  });
  // A frame larger than an HTTP body may be closes the socket with 1009 (message too big).
  const wsServer = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: config().HTTP_BODY_LIMIT_BYTES,
  });

  const wsCleanup = useServer(
    {
      // The key comes in connectionParams ({ authorization: "Bearer <key>" }) or in the upgrade
      // request's Authorization header; every subscription on the socket is then authorised with it.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const fromParams = params.authorization ?? params.Authorization;
        const header = typeof fromParams === "string" ? fromParams : (ctx.extra.request.headers.authorization ?? null);
        if (!header) {
          ctx.extra.socket.close(
            WS_UNAUTHORIZED,
            "Unauthorized: send connectionParams { authorization: 'Bearer <api key>' }",
          );
          return false;
        }
        try {
          const viewer = await authenticate(header);
          if (!viewer) throw new AuthenticationError("No API key");
          // Browsers name the page opening a socket; creator and admin keys only from allowed ones.
          const request = ctx.extra.request;
          const origin = request.headers.origin ?? null;
          const refused = refusedOrigin(viewer, origin, request.headers.host ?? null, config().CORS_ALLOWED_ORIGINS);
          if (refused) throw new AuthenticationError(refused);
        } catch (error) {
          if (error instanceof AuthenticationError) {
            ctx.extra.socket.close(WS_FORBIDDEN, `Forbidden: ${error.message}`);
          } else {
            logger.warn({ err: error }, "WebSocket authentication failed");
            ctx.extra.socket.close(WS_TRY_AGAIN_LATER, "Service temporarily unavailable: retry shortly");
          }
          return false;
        }
        (ctx.extra as { authorization?: string }).authorization = header;
        return true;
      },
      execute: (args) => (args as EnvelopedArgs).rootValue.execute(args) as never,
      subscribe: (args) => (args as EnvelopedArgs).rootValue.subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          request: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          authorization: (ctx.extra as { authorization?: string }).authorization ?? null,
          clientAddress: ctx.extra.request.socket.remoteAddress,
        });
        // Errors about the operation go back on it (the socket stays open), with a code, as over HTTP.
        let document: DocumentNode;
        try {
          document = parse(params.query);
        } catch (error) {
          return [withCode(error as GraphQLError, "GRAPHQL_PARSE_FAILED")];
        }
        const errors = validate(schema, document);
        if (errors.length) return errors.map((e: GraphQLError) => withCode(e, "GRAPHQL_VALIDATION_FAILED"));
        let contextValue: unknown;
        try {
          contextValue = await contextFactory();
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
          // The key was revoked since the socket opened: nothing more on this socket.
          if (error.extensions.code === "UNAUTHENTICATED")
            ctx.extra.socket.close(WS_FORBIDDEN, `Forbidden: ${error.message}`);
          return [error];
        }
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue,
          rootValue: { execute, subscribe },
        };
      },
    },
    wsServer,
  );

  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as AddressInfo;

  return {
    port: address.port,
    url: `http://${host}:${address.port}/graphql`,
    /** Stops taking connections, lets requests in flight finish, then closes every client. */
    async close() {
      await wsCleanup.dispose();
      // Requests in flight finish; live SSE streams never end by themselves, so after a grace
      // period every connection still open is closed (clients reconnect to another instance).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await closeYoga();
      await closeSharedConnections();
    },
  };
}
