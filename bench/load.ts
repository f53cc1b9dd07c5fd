import { Agent, request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

// Load generation against 127.0.0.1 only: keep-alive HTTP with node:http (lighter than fetch,
// so the client steals less of the two cores from the server it measures).

export type HttpAnswer = { status: number; body: string };

export class GraphQLClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(url: string, sockets: number) {
    this.url = new URL(url);
    if (this.url.hostname !== "127.0.0.1")
      throw new Error(`the bench only talks to 127.0.0.1, not ${this.url.hostname}`);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  post(body: string, apiKey: string): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const req = request(
        this.url,
        {
          method: "POST",
          agent: this.agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            authorization: `Bearer ${apiKey}`,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error("request timed out after 30 s")));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** A GraphQL operation whose answer must have data without errors; returns data. */
  async operation<T>(query: string, variables: object, apiKey: string): Promise<T> {
    const answer = await this.post(JSON.stringify({ query, variables }), apiKey);
    const parsed = JSON.parse(answer.body) as { data?: T; errors?: unknown[] };
    if (answer.status !== 200 || parsed.errors || !parsed.data) {
      throw new Error(`GraphQL request failed (HTTP ${answer.status}): ${answer.body.slice(0, 500)}`);
    }
    return parsed.data;
  }

  close(): void {
    this.agent.destroy();
  }
}

export type LoopResult = { ok: number; errors: number; latenciesMs: number[]; elapsedMs: number; firstError?: string };

/**
 * Closed loop: `concurrency` callers each send, wait for the answer, send again, until the
 * duration or the request cap is reached. `send(i)` resolves true for a good answer.
 */
export async function closedLoop(options: {
  concurrency: number;
  durationMs: number;
  maxRequests: number;
  send: (i: number) => Promise<boolean>;
  signal?: AbortSignal;
}): Promise<LoopResult> {
  const result: LoopResult = { ok: 0, errors: 0, latenciesMs: [], elapsedMs: 0 };
  const start = performance.now();
  const end = start + options.durationMs;
  let issued = 0;
  const caller = async () => {
    while (performance.now() < end && issued < options.maxRequests && !options.signal?.aborted) {
      const i = issued++;
      const sent = performance.now();
      let good = false;
      try {
        good = await options.send(i);
      } catch (error) {
        result.firstError ??= (error as Error).message;
      }
      result.latenciesMs.push(performance.now() - sent);
      if (good) result.ok++;
      else result.errors++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, caller));
  result.elapsedMs = performance.now() - start;
  return result;
}

/**
 * Open loop: starts `send(i)` at a fixed rate whatever the answers, so a slow server cannot
 * slow the offered load down (and hide its own latency). Resolves when every send settled.
 * With `maxInFlight`, a send due while that many are under way is not made but counted as
 * dropped: the run then lasts its time however far behind the server falls (the soak).
 */
export async function openLoop(options: {
  ratePerSecond: number;
  count: number;
  send: (i: number) => Promise<void>;
  maxInFlight?: number;
  signal?: AbortSignal;
}) {
  const start = performance.now();
  // Only the sends still under way are held, so a long run (the soak) keeps no trace of the rest.
  const pending = new Set<Promise<void>>();
  let started = 0;
  let dropped = 0;
  while (started < options.count && !options.signal?.aborted) {
    const due = Math.min(options.count, Math.floor(((performance.now() - start) * options.ratePerSecond) / 1000) + 1);
    for (; started < due; started++) {
      if (pending.size >= (options.maxInFlight ?? Number.POSITIVE_INFINITY)) {
        dropped++;
        continue;
      }
      const sending: Promise<void> = options
        .send(started)
        .catch(() => {})
        .finally(() => pending.delete(sending));
      pending.add(sending);
    }
    await sleep(Math.max(1, 1000 / options.ratePerSecond / 2));
  }
  await Promise.all(pending);
  return { elapsedMs: performance.now() - start, dropped };
}
