// Live subscription streams by the API key that opened them: a revoked key's streams end at
// once on every API instance (the revocation reaches each through Redis), instead of streaming
// until the client goes away.

const streams = new Map<string, Set<() => void>>();

/**
 * Keys revoked lately, by id: a stream whose key was checked before the revocation but that is
 * registered after it (its setup straddled the revocation) ends as soon as it is registered.
 * A stream is registered moments after its key was checked, so a few minutes of memory suffice.
 */
const recentlyRevoked = new Map<string, number>();
const REVOKED_MEMORY_MS = 5 * 60_000;

/** Ends every live stream the key opened in this process. */
export function endStreamsOfKey(keyId: string): void {
  const now = Date.now();
  for (const [id, at] of recentlyRevoked) if (now - at > REVOKED_MEMORY_MS) recentlyRevoked.delete(id);
  recentlyRevoked.set(keyId, now);
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
  /** Wakes the next() waiting on the source, if any. One per call, never accumulated on a long-lived promise. */
  let wakeWaiting: (() => void) | null = null;
  const end = () => {
    if (state !== "live") return;
    state = "revoked";
    wakeWaiting?.();
    inner.return?.().catch(() => {});
  };
  const ends = streams.get(keyId) ?? new Set<() => void>();
  streams.set(keyId, ends);
  ends.add(end);
  if (recentlyRevoked.has(keyId)) end();
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
      const next =
        state === "revoked"
          ? "revoked"
          : await new Promise<IteratorResult<T> | "revoked">((resolve, reject) => {
              wakeWaiting = () => resolve("revoked");
              inner.next().then(resolve, reject);
            });
      wakeWaiting = null;
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
