import { randomBytes } from "node:crypto";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { startApiServer } from "../../src/api/http-server.js";
import { createApiKey } from "../../src/auth/api-keys.js";
import { createCreator } from "../../src/creators/creator-service.js";
import { toGlobalId } from "./ids.js";

export type GraphQLResponse<T> = {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
};

/** A real API server on a free port, for the whole test file. */
export async function startApi() {
  const server = await startApiServer(0);
  return {
    url: server.url,
    close: server.close,
    /** Sends a typed operation over HTTP, as any client would. */
    async request<TResult, TVariables>(
      document: TypedDocumentNode<TResult, TVariables> | string,
      variables?: TVariables,
      apiKey?: string | null,
      headers: Record<string, string> = {},
    ): Promise<GraphQLResponse<TResult>> {
      const response = await fetch(server.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query: typeof document === "string" ? document : print(document), variables }),
      });
      const body = (await response.json()) as GraphQLResponse<TResult>;
      return { ...body, status: response.status };
    },
  };
}

export type TestApi = Awaited<ReturnType<typeof startApi>>;

export function uniqueHandle(prefix = "creator"): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/** A creator with its creator and ingest keys, made through the services (setup, not the subject). */
export async function makeCreator(overrides: Partial<Parameters<typeof createCreator>[0]> = {}) {
  const creator = await createCreator({ name: "Test Creator", handle: uniqueHandle(), ...overrides }, null);
  const { secret: creatorKey } = await createApiKey({ kind: "CREATOR", creatorId: creator.id, name: "test" }, null);
  const { secret: ingestKey } = await createApiKey(
    { kind: "INGEST", creatorId: creator.id, name: "test ingest" },
    null,
  );
  return { creator, gid: toGlobalId("Creator", creator.id), creatorKey, ingestKey };
}

export async function makeAdminKey(): Promise<string> {
  return (await createApiKey({ kind: "ADMIN", name: "test admin" }, null)).secret;
}
