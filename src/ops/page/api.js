// The console's one way to the API: queries and mutations over fetch to this server's /graphql
// with the key in the Authorization header; subscriptions over one WebSocket (graphql-ws, its
// browser build /ops/graphql-ws.js defines globalThis.graphqlWs) with the key in connectionParams.
// The key never goes in a URL. One socket carries every feed of the tab: a browser allows six
// HTTP/1.1 connections per host, which a few tabs each holding SSE streams would use up, leaving
// every request queued; WebSockets are not counted against that limit.

const ENDPOINT = "/graphql";

/** graphql-ws close codes the server uses for a key it refuses: none sent (4401), bad or revoked (4403). */
const KEY_REFUSED_CLOSE_CODES = [4401, 4403];

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

const isCloseEvent = (value) => typeof value === "object" && value !== null && "code" in value && "reason" in value;

/** A socket closed because the key was refused (revoked since, or never valid) as an ApiError. */
function keyRefused(event) {
  return new ApiError("UNAUTHENTICATED", event.reason || "The API refused this key");
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

/**
 * A client for one key: `request` for queries and mutations, `subscribe` for live feeds, `probe`
 * to learn when the feeds subscribed so far are running. `onSocket(state, error)` follows the
 * socket: "connecting", "connected" (again after a drop: subscriptions are sent anew), "closed"
 * (it retries), "refused" (the key was refused: an ApiError; nothing is retried) and "failed"
 * (it gave up retrying).
 */
export function createApi(key, { onSocket = () => {} } = {}) {
  const headers = { authorization: `Bearer ${key}` };
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let refused = false;
  const ws = globalThis.graphqlWs.createClient({
    url: `${scheme}//${location.host}${ENDPOINT}`,
    connectionParams: headers,
    // One socket for the client's life, not one per burst of subscriptions: changing creator
    // ends four subscriptions and starts four, which must not close and reopen it.
    lazy: false,
    retryAttempts: 8,
    // Anything but a refused key is retried: a closed socket, and a refused connection too (the
    // API restarting: the browser reports it as a plain error Event). A refused key stays refused
    // (4401 is never retried by graphql-ws, 4403 would be).
    shouldRetry: (event) => !(isCloseEvent(event) && KEY_REFUSED_CLOSE_CODES.includes(event.code)),
    onNonLazyError: (error) => {
      if (!refused) onSocket("failed", error);
    },
    on: {
      connecting: () => onSocket("connecting"),
      connected: () => onSocket("connected"),
      closed: (event) => {
        if (isCloseEvent(event) && KEY_REFUSED_CLOSE_CODES.includes(event.code)) {
          refused = true;
          onSocket("refused", keyRefused(event));
        } else if (!refused) onSocket("closed");
      },
    },
  });

  const subscribe = (query, variables, { onData, onError }) =>
    ws.subscribe(
      { query, variables },
      {
        next: (message) => {
          if (message.errors?.length) onError(firstError(message.errors));
          else onData(message.data);
        },
        error: (error) => {
          if (Array.isArray(error)) onError(firstError(error));
          else if (isCloseEvent(error) && KEY_REFUSED_CLOSE_CODES.includes(error.code)) onError(keyRefused(error));
          else if (isCloseEvent(error))
            onError(new ApiError("STREAM_FAILED", `The live connection closed (${error.code} ${error.reason})`));
          else if (error instanceof Error) onError(new ApiError("STREAM_FAILED", error.message));
          // A DOM Event says nothing printable ("[object Event]"): the socket could not be opened.
          else onError(new ApiError("STREAM_FAILED", "The live connection could not be opened"));
        },
        complete: () => {},
      },
    );

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
     * error, or the socket failing for good). Answers the function that ends it.
     */
    subscribe,

    /**
     * Resolves once the socket has answered a query sent after every subscription made so far.
     * graphql-ws acknowledges the socket, not each subscription; the server takes the socket's
     * messages as they come, so the subscriptions sent before the probe have been set up by the
     * time it answers (but for their Redis acknowledgement, a local round trip, still in flight).
     * Rejects with an ApiError.
     */
    probe: () =>
      new Promise((resolve, reject) => {
        subscribe(
          "query OpsProbe { viewer { kind } }",
          {},
          {
            onData: (data) =>
              data.viewer ? resolve() : reject(new ApiError("UNAUTHENTICATED", "The API no longer accepts this key")),
            onError: reject,
          },
        );
      }),

    /** Ends every subscription of this key and closes the socket. */
    dispose: () => {
      refused = true;
      void ws.dispose();
    },
  };
}
