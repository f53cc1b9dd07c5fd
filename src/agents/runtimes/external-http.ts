import { createHmac } from "node:crypto";
import { UnrecoverableError } from "bullmq";
import { z } from "zod";
import { outboundHttp, refusalOf } from "../../outbound/guarded-http.js";
import { type AgentContext, type AgentEvent, plannedActionSchema } from "../agent.js";
import { agentConfigSchema } from "../agent-config.js";
import type { AgentOutcome, AgentRecord, AgentRuntime } from "./runtime.js";

const answerSchema = z.object({
  decision: z.object({
    act: z.boolean(),
    reason: z.string().min(1).max(2000),
    rule: z.string().max(100).default("external"),
  }),
  actions: z.array(plannedActionSchema).max(20).default([]),
});

/** After this many failures in a row, calls to the service stop for a while instead of piling up. */
const BREAKER_THRESHOLD = 5;
const BREAKER_OPEN_MS = 30_000;
const breakers = new Map<string, { failures: number; openUntil: number }>();

export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

async function callOnce(url: string, secret: string, body: string, timeoutMs: number) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  let response: Response;
  try {
    response = await outboundHttp().request(url, {
      headers: {
        "content-type": "application/json",
        "x-closer-timestamp": timestamp,
        "x-closer-signature": signBody(secret, timestamp, body),
      },
      body,
      timeoutMs,
    });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const refusal = refusalOf(error);
    // A refused address stays refused: no retry.
    if (refusal) throw new UnrecoverableError(`agent service ${refusal.message}`);
    throw new Error(
      `agent service unreachable: ${(error as Error).message}${cause ? ` (${(cause as Error).message})` : ""}`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    const redirect = response.status >= 300 && response.status < 400 ? ": redirects are not followed" : "";
    throw new Error(`agent service answered HTTP ${response.status}${redirect}`);
  }
  const parsed = answerSchema.safeParse(await response.json().catch(() => null));
  // A malformed answer is the service's bug: retrying the same input would not fix it.
  if (!parsed.success) throw new UnrecoverableError(`agent service answer is invalid: ${parsed.error.message}`);
  return parsed.data;
}

/** POSTs the context and event to the agent's service, signed, with timeout, retries and a circuit breaker. */
export const externalHttpRuntime: AgentRuntime = {
  async run(agent: AgentRecord, ctx: AgentContext, event: AgentEvent): Promise<AgentOutcome> {
    const config = agentConfigSchema.parse(agent.config);
    const remote = config.externalHttp;
    if (!remote) throw new UnrecoverableError("EXTERNAL_HTTP agent has no externalHttp settings");
    const breaker = breakers.get(agent.id) ?? { failures: 0, openUntil: 0 };
    if (breaker.openUntil > Date.now()) throw new Error("agent service circuit is open after repeated failures");

    const body = JSON.stringify({
      agent: { id: agent.id, kind: agent.kind, profile: config.profile, tunables: config.tunables },
      context: ctx,
      event,
    });
    let lastError: unknown;
    for (let attempt = 0; attempt <= remote.retries; attempt++) {
      try {
        const answer = await callOnce(remote.url, remote.secret, body, remote.timeoutMs);
        breakers.delete(agent.id);
        return { decision: answer.decision, actions: answer.actions };
      } catch (error) {
        if (error instanceof UnrecoverableError) throw error;
        lastError = error;
        if (attempt < remote.retries) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
    breaker.failures += 1;
    if (breaker.failures >= BREAKER_THRESHOLD) breaker.openUntil = Date.now() + BREAKER_OPEN_MS;
    breakers.set(agent.id, breaker);
    throw lastError;
  },
};
