import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";

export type SseFrame = { event: string | null; data: string };

/**
 * The frames of a Server-Sent Events body as they arrive: each frame's event name and its data
 * lines joined (a comment, such as Yoga's keep-alive, is a frame with neither).
 */
export async function* sseFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const lines = buffer.slice(0, end).split("\n");
      buffer = buffer.slice(end + 2);
      const event =
        lines
          .find((l) => l.startsWith("event:"))
          ?.slice(6)
          .trim() ?? null;
      const data = lines
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trim())
        .join("");
      yield { event, data };
    }
  }
}

/** POSTs a GraphQL subscription asking for Server-Sent Events, as a browser console opens one. */
export function postSubscription(url: string, query: string, variables: unknown, apiKey: string, signal?: AbortSignal) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query, variables }),
    signal,
  });
}

/**
 * Reads an SSE body in the background, handing each frame over as it arrives. `opened` resolves
 * with the first chunk (Yoga writes a keep-alive once the subscription is set up) or the end;
 * `ended` with null when the server ended the response, or the error that stopped the reading.
 */
export function readFrames(body: ReadableStream<Uint8Array>, onFrame: (frame: SseFrame) => void) {
  let opened!: () => void;
  const first = new Promise<void>((resolve) => {
    opened = resolve;
  });
  const ended = (async () => {
    try {
      for await (const frame of sseFrames(body)) {
        opened();
        onFrame(frame);
      }
      return null;
    } catch (error) {
      return error;
    } finally {
      opened();
    }
  })();
  return { opened: first, ended };
}

type Next<T> = { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] };

/**
 * A GraphQL subscription over Server-Sent Events, as a browser console would open it. Messages
 * are buffered from the start, so nothing published between subscribing and reading is missed.
 */
export async function subscribeSse<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  apiKey: string,
) {
  const controller = new AbortController();
  const response = await postSubscription(url, print(document), variables, apiKey, controller.signal);
  const received: Next<TResult>[] = [];
  const waiters: (() => void)[] = [];
  // Reading stops with an error once close() aborts the request.
  const { opened } = readFrames(response.body as ReadableStream<Uint8Array>, (frame) => {
    if (frame.data && frame.event === "next") received.push(JSON.parse(frame.data));
    for (const wake of waiters.splice(0)) wake();
  });
  await Promise.race([opened, new Promise((r) => setTimeout(r, 2000))]);

  return {
    status: response.status,
    received,
    /** Waits until a message satisfies the predicate, or fails after the timeout. */
    async waitFor(predicate: (m: Next<TResult>) => boolean, timeoutMs = 10_000): Promise<Next<TResult>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(predicate);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(`no matching subscription message in ${timeoutMs} ms; got ${JSON.stringify(received)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, left);
        });
      }
    },
    close: () => controller.abort(),
  };
}
