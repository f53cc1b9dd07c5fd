import type { ProfileSnapshot } from "../../agents/agent-config.js";
import type { Channel } from "../../generated/prisma/enums.js";
import type { Understanding } from "./intent.js";

/** What an understander is given: the unanswered burst and what came before it. */
export type UnderstandingRequest = {
  /** The consumer's messages not yet answered (a burst), oldest first. */
  messages: string[];
  /** The channel they were written on. */
  channel: Channel;
  /** The creator's active profile: the only source of facts. */
  profile: ProfileSnapshot;
  /** The conversation before the burst, oldest first (at most the last 20 messages). */
  history: { direction: "INBOUND" | "OUTBOUND"; text: string }[];
};

/** An understanding, and what happened on the way (a model's failure, a slot dropped), for the decision's trace. */
export type UnderstandingResult = { understanding: Understanding; notes: string[] };

/**
 * Turns a consumer's messages into an intent with its slots. Two implementations: the model
 * (model.ts, through the `openai` SDK) and the deterministic one (deterministic.ts), chosen by
 * whether OPENAI_API_KEY is set (understanding.ts). Never throws for what the consumer wrote;
 * the model's implementation falls back to the deterministic one when the model fails.
 */
export interface Understander {
  /** "deterministic" or "model", recorded with each decision. */
  readonly name: string;
  understand(request: UnderstandingRequest): Promise<UnderstandingResult>;
}
