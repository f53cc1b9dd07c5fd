import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { afterAll, beforeAll } from "vitest";
import { startApiServer } from "../../src/api/http-server.js";

export type GraphQLResponse<T> = {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
};

/**
 * Sends a typed operation over HTTP to the GraphQL endpoint at `url`, as any client would. Throws
 * when no answer comes or the answer is not JSON.
 */
export async function requestAt<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables> | string,
  variables?: TVariables,
  apiKey?: string | null,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<TResult>> {
  const response = await fetch(url, {
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
}

/** A real API server on a free port, for the whole test file. */
export async function startApi() {
  const server = await startApiServer(0);
  return {
    url: server.url,
    close: server.close,
    /** Sends a typed operation over HTTP, as any client would (requestAt). */
    request<TResult, TVariables>(
      document: TypedDocumentNode<TResult, TVariables> | string,
      variables?: TVariables,
      apiKey?: string | null,
      headers: Record<string, string> = {},
    ): Promise<GraphQLResponse<TResult>> {
      return requestAt(server.url, document, variables, apiKey, headers);
    },
  };
}

export type TestApi = Awaited<ReturnType<typeof startApi>>;

/**
 * The API for the whole test file, started before the hooks and tests that follow this call and
 * stopped after them; with the worker as deployed (without the delivery scheduler) when asked.
 */
export function useApi(options: { worker?: boolean } = {}): TestApi {
  let api: TestApi | undefined;
  let worker: { close(): Promise<void> } | undefined;
  beforeAll(async () => {
    api = await startApi();
    if (options.worker) {
      const { startWorker } = await import("../../worker/worker.js");
      worker = await startWorker({ metricsPort: 0, scheduler: false });
    }
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
  });
  const started = () => {
    if (!api) throw new Error("the file's API is not started yet: use it in hooks and tests");
    return api;
  };
  return {
    get url() {
      return started().url;
    },
    close: () => started().close(),
    request: (document, variables, apiKey, headers) => started().request(document, variables, apiKey, headers),
  };
}
