import { z } from "zod";
import type { Channel } from "../generated/prisma/enums.js";

// A creator's frequency caps: how many messages a consumer may get on a channel over a rolling
// window. The delivery rules enforce them at send time (src/delivery/send-rules.ts).

export type FrequencyCapRule = { max: number; windowHours: number };

/** Applies where the creator set no cap of its own: a few messages a day reach a person without spamming them. */
export const DEFAULT_FREQUENCY_CAPS: Partial<Record<Channel, FrequencyCapRule>> = {
  EMAIL: { max: 3, windowHours: 24 },
  WHATSAPP: { max: 3, windowHours: 24 },
};

const capRule = z.object({ max: z.number().int().min(0), windowHours: z.number().int().min(1) });

/** The cap on a channel: the creator's own (`creatorCaps`, the stored JSON by channel), else the default; null for none. */
export function frequencyCapFor(creatorCaps: unknown, channel: Channel): FrequencyCapRule | null {
  const own = capRule.safeParse((creatorCaps as Record<string, unknown> | null)?.[channel]);
  return own.success ? own.data : (DEFAULT_FREQUENCY_CAPS[channel] ?? null);
}
