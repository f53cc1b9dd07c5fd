import { z } from "zod";
import { profileContentSchema } from "../profiles/profile-content.js";
import { webUrl } from "../validation.js";

/** What the agent knows of the creator: a snapshot of the active profile, refreshed when it changes. */
export const profileSnapshot = profileContentSchema.extend({
  profileId: z.uuid(),
  version: z.number().int(),
  creatorName: z.string(),
});
export type ProfileSnapshot = z.infer<typeof profileSnapshot>;

/** Knobs of the generic sales agent; every creator gets the defaults unless set. */
export const tunablesSchema = z.object({
  /** No two messages to one consumer closer than this (the anti-spam spacing). */
  minHoursBetweenMessages: z
    .number()
    .min(0)
    .max(24 * 30)
    .default(24),
  /** A welcome waits this long, so it does not land while the person is still on the page. */
  welcomeDelayMinutes: z
    .number()
    .int()
    .min(0)
    .max(24 * 60)
    .default(5),
  /** Views of one service that make a follow-up with its pitch worth sending. */
  serviceViewsForFollowUp: z.number().int().min(1).max(50).default(2),
  /** Channels in order of preference when the consumer has consent on several. */
  channelPreference: z
    .array(z.enum(["WHATSAPP", "EMAIL"]))
    .min(1)
    .default(["WHATSAPP", "EMAIL"]),
  /** Whether a failed send may fall back to the next channel in channelPreference. */
  allowChannelFallback: z.boolean().default(true),
  /**
   * A consumer's message is read this long after it was written, so a burst of messages gets one
   * answer (agent-run.ts, burstWait).
   */
  replyDelaySeconds: z.number().int().min(0).max(600).default(15),
  /** Days without any event of the consumer's after which a new cycle begins: follow-ups may be sent again. */
  quietDaysForNewCycle: z.number().min(1).max(365).default(30),
});
export type AgentTunables = z.infer<typeof tunablesSchema>;

/** How EXTERNAL_HTTP agents are reached. */
export const externalHttpSchema = z.object({
  url: webUrl,
  /** HMAC-SHA256 key for the X-Closer-Signature header. */
  secret: z.string().min(16),
  timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
  retries: z.number().int().min(0).max(5).default(2),
});

export const agentConfigSchema = z.object({
  profile: profileSnapshot.nullable().default(null),
  tunables: tunablesSchema.default(tunablesSchema.parse({})),
  externalHttp: externalHttpSchema.optional(),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

/**
 * The config as the API shows it: secrets are write-only, so the external service's signing
 * secret is replaced by `secretSet: true` (deploying again with a new secret replaces it).
 */
export function visibleAgentConfig(raw: unknown): unknown {
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) return null;
  const { externalHttp, ...rest } = parsed.data;
  if (!externalHttp) return rest;
  const { secret, ...endpoint } = externalHttp;
  return { ...rest, externalHttp: { ...endpoint, secretSet: secret.length > 0 } };
}
