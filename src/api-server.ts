import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { ExecutionArgs } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import { createYogaServer } from "./graphql/yoga.js";
import { closeSharedConnections } from "./shutdown.js";

const SHUTDOWN_GRACE_MS = 5_000;

type EnvelopedArgs = ExecutionArgs & {
  rootValue: { execute: (a: unknown) => unknown; subscribe: (a: unknown) => unknown };
};

/** The API process: GraphQL over HTTP and SSE at /graphql, and over WebSocket (graphql-ws) on the same path. */
export async function startApiServer(port: number, host = "127.0.0.1") {
  const { yoga, close: closeYoga } = createYogaServer();
  const server = createServer(yoga);
  const wsServer = new WebSocketServer({ server, path: yoga.graphqlEndpoint });

  const wsCleanup = useServer(
    {
      execute: (args) => (args as EnvelopedArgs).rootValue.execute(args) as never,
      subscribe: (args) => (args as EnvelopedArgs).rootValue.subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          request: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          connectionParams: ctx.connectionParams,
          clientAddress: ctx.extra.request.socket.remoteAddress,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
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
