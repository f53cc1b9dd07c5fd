import { isOutage } from "../outages.js";

type Pending<In, Out> = { input: In; resolve: (out: Out) => void; reject: (error: unknown) => void };

/**
 * Gathers calls into set-based ones, as DataLoader does: the calls made while the event loop is
 * busy (the same turn, up to its check phase) go to `run` together, so the agent runs of many
 * concurrent jobs cost one statement or one transaction per step, not one each.
 *
 * It never waits for a batch to fill: a call flushes at the end of the turn it was made in, unless
 * `maxInFlight` batches are already running, in which case it joins the next batch, which starts
 * as soon as one of them ends (group commit). So light load pays no latency, and under heavy load
 * the batches grow by themselves to what arrives during one round trip.
 *
 * `run` answers one output per input, in order. When it throws for a batch of several (one item's
 * bad data, a deadlock), each item is run again alone, so every caller gets its own outcome and a
 * bad item fails no other; an outage is given to every caller at once, as retrying each would only
 * wait on it again.
 */
export class Batcher<In, Out> {
  private waiting: Pending<In, Out>[] = [];
  private scheduled = false;
  private running = 0;

  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly limits: { maxBatch: number; maxInFlight: number },
  ) {}

  /** `run`'s output for this input, or the error it threw for it (see the class). */
  call(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.limits.maxInFlight || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.running < this.limits.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.limits.maxBatch);
      this.running++;
      void this.runBatch(batch).finally(() => {
        this.running--;
        this.schedule();
      });
    }
  }

  private async runBatch(batch: Pending<In, Out>[]): Promise<void> {
    let outputs: Out[];
    try {
      outputs = await this.run(batch.map((p) => p.input));
    } catch (error) {
      if (batch.length === 1 || isOutage(error)) {
        for (const p of batch) p.reject(error);
        return;
      }
      await Promise.all(batch.map((p) => this.run([p.input]).then(([out]) => p.resolve(out), p.reject)));
      return;
    }
    for (const [i, p] of batch.entries()) p.resolve(outputs[i]);
  }
}
