import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { createClient } from "graphql-sse";

// A small typed client for frontends: the documents of client/operations.graphql, typed by
// codegen, sent over HTTP; subscriptions over Server-Sent Events with graphql-sse (the protocol
// the API speaks), so the Authorization header goes with them as with any request.

export * from "./generated/graphql.js";

/** A GraphQL error the API answered with; `code` is its `extensions.code` (UNAUTHENTICATED, FORBIDDEN...). */
export class CloserRequestError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
    readonly errors: readonly { message: string; extensions?: Record<string, unknown> }[],
    /** What the API answered beside the errors, when it answered part of the request. */
    readonly partialData: unknown = null,
  ) {
    super(message);
  }
}

type AnswerError = { message: string; extensions?: Record<string, unknown> };
type GraphQLAnswer<T> = { data?: T | null; errors?: readonly AnswerError[] };

function failure(errors: readonly AnswerError[], partialData: unknown = null): CloserRequestError {
  const code = errors[0]?.extensions?.code;
  return new CloserRequestError(
    errors.map((e) => e.message).join("; "),
    typeof code === "string" ? code : null,
    errors,
    partialData,
  );
}

/**
 * A client for one API key. `url` is the GraphQL endpoint (http://localhost:4000/graphql).
 * `request` answers the operation's typed data, or throws CloserRequestError (a domain error of a
 * mutation, such as a ValidationError, is data: its `__typename` says which). `subscribe` calls
 * `onNext` with each message's data until the returned function is called.
 */
export function closerClient({ url, apiKey }: { url: string; apiKey: string }) {
  const headers = { authorization: `Bearer ${apiKey}` };
  const sse = createClient({ url, headers });
  return {
    async request<TResult, TVariables>(
      document: TypedDocumentNode<TResult, TVariables>,
      variables: TVariables,
    ): Promise<TResult> {
      const response = await fetch(url, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", accept: "application/graphql-response+json" },
        body: JSON.stringify({ query: print(document), variables }),
      });
      // A proxy's error page is not GraphQL: say what came back rather than fail to parse it.
      const type = response.headers.get("content-type") ?? "";
      if (!/json/.test(type)) {
        throw new CloserRequestError(
          `HTTP ${response.status}: not a GraphQL answer (${type || "no content type"})`,
          null,
          [],
        );
      }
      const answer = (await response.json()) as GraphQLAnswer<TResult>;
      if (answer.errors?.length) throw failure(answer.errors, answer.data ?? null);
      if (!answer.data) throw new CloserRequestError(`HTTP ${response.status} without data`, null, []);
      return answer.data;
    },
    subscribe<TResult, TVariables>(
      document: TypedDocumentNode<TResult, TVariables>,
      variables: TVariables,
      onNext: (data: TResult) => void,
      /** A GraphQL error (CloserRequestError: UNAUTHENTICATED when the key is revoked) or a lost connection. */
      onError: (error: unknown) => void,
    ): () => void {
      return sse.subscribe<TResult>(
        { query: print(document), variables: variables as Record<string, unknown> },
        {
          next: (message) => {
            if (message.errors?.length)
              onError(failure(message.errors as NonNullable<GraphQLAnswer<unknown>["errors"]>));
            else if (message.data) onNext(message.data);
          },
          error: onError,
          complete: () => {},
        },
      );
    },
    /** Closes the subscriptions' connections. */
    close: () => sse.dispose(),
  };
}
