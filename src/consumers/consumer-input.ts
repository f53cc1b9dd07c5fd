import { z } from "zod";
import { CHANNELS } from "../creators/creator-service.js";
import { email, phone, timezone } from "../validation.js";

/** Attributes and payloads are small JSON objects: a size cap keeps one client from bloating rows. */
export function jsonObject(maxBytes: number) {
  return z
    .unknown()
    .refine((value) => typeof value === "object" && value !== null && !Array.isArray(value), "must be a JSON object")
    .transform((value) => value as Record<string, unknown>)
    .refine(
      (value) => Buffer.byteLength(JSON.stringify(value)) <= maxBytes,
      `must be at most ${maxBytes} bytes of JSON`,
    );
}

export const consentInput = z.object({
  channel: z.enum(CHANNELS),
  granted: z.boolean(),
  source: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .nullish()
    .transform((source) => source ?? "api"),
});

/** How an event names its consumer: the creator's own id and/or contact details. */
export const consumerInput = z
  .object({
    externalId: z.string().trim().min(1).max(200).nullish(),
    email: email.nullish(),
    phone: phone.nullish(),
    name: z.string().trim().min(1).max(200).nullish(),
    timezone: timezone.nullish(),
    attributes: jsonObject(4096).nullish(),
    consents: z.array(consentInput).max(10).nullish(),
  })
  .refine((c) => c.externalId || c.email || c.phone, {
    message: "name the consumer with at least one of externalId, email or phone",
  });

export type ConsumerInput = z.output<typeof consumerInput>;
