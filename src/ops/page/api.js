// The console's one way to the API: GraphQL over fetch to this server's /graphql, subscriptions over
// SSE with graphql-sse (its browser build, /ops/graphql-sse.js, defines globalThis.graphqlSse), both
// with the key in the Authorization header, never in a URL.

const ENDPOINT = "/graphql";

/** A failure as the API says it: its `extensions.code` (or the mutation error's `code`) and message. */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function firstError(errors) {
  const [error] = errors;
  return new ApiError(error.extensions?.code ?? "ERROR", error.message);
}

/**
 * A mutation's result, or its domain error (ValidationError, NotFoundError...) thrown as an
 * ApiError: mutation results are unions whose error members carry `code` and `message`.
 */
export function resultOf(result) {
  if (result && typeof result.code === "string") {
    const issues = (result.issues ?? []).map((i) => `${i.path}: ${i.message}`).join("; ");
    throw new ApiError(result.code, issues ? `${result.message} (${issues})` : result.message);
  }
  return result;
}

/** An ApiError (or any error) as one line for the operator. */
export function describeError(error) {
  return error instanceof ApiError ? `${error.code}: ${error.message}` : `ERROR: ${error?.message ?? error}`;
}

/** A client for one key: `request` for queries and mutations, `subscribe` for live feeds. */
export function createApi(key) {
  const headers = { authorization: `Bearer ${key}` };
  const sse = globalThis.graphqlSse.createClient({ url: ENDPOINT, headers, retryAttempts: 5 });

  return {
    /** Answers the operation's data, or throws its first error as an ApiError. */
    async request(query, variables = {}) {
      const response = await fetch(ENDPOINT, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ query, variables }),
      });
      let body;
      try {
        body = await response.json();
      } catch {
        throw new ApiError(`HTTP_${response.status}`, `The API answered ${response.status} without GraphQL`);
      }
      if (body.errors?.length) throw firstError(body.errors);
      return body.data;
    },

    /**
     * Follows a subscription: `onData` gets each message's data, `onError` an ApiError (a GraphQL
     * error, or the stream failing for good after graphql-sse's retries), `onLive` is called once
     * the server has answered. Answers the function that ends it.
     */
    subscribe(query, variables, { onData, onError, onLive }) {
      return sse.subscribe(
        { query, variables },
        {
          next: (message) => {
            if (message.errors?.length) onError(firstError(message.errors));
            else onData(message.data);
          },
          error: (error) => {
            if (Array.isArray(error)) onError(firstError(error));
            else onError(new ApiError("STREAM_FAILED", error instanceof Error ? error.message : String(error)));
          },
          complete: () => {},
        },
        { connected: () => onLive() },
      );
    },

    /** Ends every subscription of this key. */
    dispose: () => sse.dispose(),
  };
}
