// Live subscription streams by the API key that opened them: a revoked key's streams end at
// once on every API instance (the revocation reaches each through Redis), instead of streaming
// until the client goes away.

const streams = new Map<string, Set<() => void>>();

/** Ends every live stream the key opened in this process. */
export function endStreamsOfKey(keyId: string): void {
  const ends = streams.get(keyId);
  streams.delete(keyId);
  for (const end of ends ?? []) end();
}

/** How many live streams this process holds for the key (for tests and metrics). */
export function liveStreamsOfKey(keyId: string): number {
  return streams.get(keyId)?.size ?? 0;
}

/**
 * Wraps a subscription's stream so that it ends when the key that opened it is revoked: the
 * subscriber gets `last` (an error saying why), then the end; the source is closed at once, which
 * releases its listeners. Ending or returning the wrapper closes the source too.
 */
export function endOnRevocation<T>(source: AsyncIterable<T>, keyId: string, last: T): AsyncIterableIterator<T> {
  const inner = source[Symbol.asyncIterator]();
  let state: "live" | "revoked" | "finished" = "live";
  let onRevoked: () => void = () => {};
  const revoked = new Promise<"revoked">((resolve) => {
    onRevoked = () => resolve("revoked");
  });
  const end = () => {
    if (state !== "live") return;
    state = "revoked";
    onRevoked();
    inner.return?.().catch(() => {});
  };
  let ends = streams.get(keyId);
  if (!ends) streams.set(keyId, (ends = new Set()));
  ends.add(end);
  const finish = () => {
    state = "finished";
    const set = streams.get(keyId);
    set?.delete(end);
    if (set?.size === 0) streams.delete(keyId);
  };
  const done: IteratorResult<T> = { value: undefined, done: true };
  const wrapper: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => wrapper,
    async next() {
      if (state === "finished") return done;
      const next = state === "revoked" ? "revoked" : await Promise.race([inner.next(), revoked]);
      if (next === "revoked" || state === "revoked") {
        finish();
        return { value: last, done: false };
      }
      if (next.done) finish();
      return next;
    },
    async return() {
      const wasLive = state === "live";
      finish();
      if (wasLive) await inner.return?.();
      return done;
    },
    async throw(error: unknown) {
      finish();
      await inner.return?.();
      throw error;
    },
  };
  return wrapper;
}
