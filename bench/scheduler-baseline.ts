import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import nodemailer from "nodemailer";
import pg from "pg";

// The scheduler's baseline: the least a scheduler does, with plain pg. It claims due actions in
// batches with FOR UPDATE SKIP LOCKED in one statement (as claimDueActions in
// src/delivery/delivery-store.ts does), sends each to the same local sinks as Closer's providers
// (HTTP for WhatsApp and webhooks, SMTP for email), `concurrency` at once, and marks each SENT
// with its lateness. No send rules, leases, rate limits, publishes, conversations or outcome
// events. Like the scheduler's tick, a batch is sent whole before the next claim.
//
// It runs in a thread of its own, as Closer's scheduler runs in a process of its own: on the
// bench's thread, which also serves the sinks, it would get half the CPU Closer gets on a busy
// machine (the kernel shares CPU by thread).

export type SchedulerBaselineOptions = {
  databaseUrl: string;
  /** Connections, like the scheduler's pool (DATABASE_POOL_SIZE). */
  poolSize: number;
  /** Actions per claim (SCHEDULER_BATCH_SIZE). */
  batchSize: number;
  /** Sends at once (DELIVERY_CONCURRENCY). */
  concurrency: number;
  /** The WhatsApp Cloud API stand-in, with its version (WHATSAPP_API_URL). */
  whatsAppUrl: string;
  smtpUrl: string;
};

type Claimed = {
  id: string;
  channel: "EMAIL" | "WHATSAPP" | "WEBHOOK";
  payload: Record<string, unknown>;
  sendAt: Date;
};

/** Sends every action due now in a thread of its own; resolves with how many it sent. */
export async function runSchedulerBaseline(options: SchedulerBaselineOptions): Promise<number> {
  // The bench runs from TypeScript source: the thread registers tsx's loader before the module.
  const boot = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const thread = new Worker(boot, { eval: true, workerData: { schedulerBaseline: options } });
  try {
    return await new Promise<number>((resolve, reject) => {
      thread.once("message", resolve);
      thread.once("error", reject);
      thread.once("exit", (code) =>
        reject(new Error(`the scheduler baseline's thread exited (${code}) before it was done`)),
      );
    });
  } finally {
    await thread.terminate();
  }
}

if (!isMainThread && workerData?.schedulerBaseline) {
  parentPort?.postMessage(await sendDue(workerData.schedulerBaseline as SchedulerBaselineOptions));
}

/** Sends every action due now, batch after batch, until a claim finds none. Resolves with how many it sent. */
async function sendDue(options: SchedulerBaselineOptions): Promise<number> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize });
  // A pool of 5 SMTP connections, as the email provider has (src/delivery/providers/email.ts).
  const mail = nodemailer.createTransport({ url: options.smtpUrl, pool: true, maxConnections: 5 });
  const post = async (url: string, body: unknown) => {
    const answer = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await answer.text();
    if (!answer.ok) throw new Error(`${url} answered HTTP ${answer.status}`);
  };
  const send = async ({ id, channel, payload }: Claimed) => {
    if (channel === "EMAIL") {
      await mail.sendMail({
        from: "bench@example.com",
        to: payload.to as string,
        subject: payload.subject as string,
        text: payload.message as string,
      });
    } else if (channel === "WHATSAPP") {
      const message = { messaging_product: "whatsapp", to: payload.to, type: "text", text: { body: payload.message } };
      await post(`${options.whatsAppUrl}/bench/messages`, message);
    } else {
      await post(payload.url as string, { id, event: payload.event, data: payload.data });
    }
  };
  let sent = 0;
  try {
    for (;;) {
      const { rows: batch } = await pool.query<Claimed>(
        `UPDATE actions SET status = 'SENDING', "claimedAt" = now(), "updatedAt" = now()
          WHERE id IN (SELECT id FROM actions WHERE status = 'PLANNED' AND "sendAt" <= now()
                        ORDER BY priority DESC, "sendAt", id LIMIT $1 FOR UPDATE SKIP LOCKED)
          RETURNING id, channel, payload, "sendAt"`,
        [options.batchSize],
      );
      if (batch.length === 0) return sent;
      let next = 0;
      const runner = async () => {
        while (next < batch.length) {
          const action = batch[next++];
          await send(action);
          const sentAt = new Date();
          await pool.query(
            `UPDATE actions SET status = 'SENT', "sentAt" = $2, "latenessMs" = $3, attempts = attempts + 1,
                    "claimedAt" = NULL, "updatedAt" = now()
              WHERE id = $1`,
            [action.id, sentAt, Math.max(0, sentAt.getTime() - action.sendAt.getTime())],
          );
          sent++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency, batch.length) }, runner));
    }
  } finally {
    mail.close();
    await pool.end();
  }
}
