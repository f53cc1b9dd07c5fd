import { z } from "zod";
import { recordAudit } from "../audit/audit-log.js";
import { inTransaction } from "../db/transaction.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type { Creator } from "../generated/prisma/client.js";
import { email, handle, phone, timeOfDay, timezone } from "../validation.js";
import type { Viewer } from "../viewer.js";
import { type CreatorFields, insertCreator, isHandleTaken, updateCreatorFields } from "./creator-store.js";

export const CHANNELS = ["EMAIL", "WHATSAPP", "WEBHOOK"] as const;

export const frequencyCap = z.object({
  channel: z.enum(CHANNELS),
  max: z.number().int().min(0).max(1000),
  windowHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 90),
});
export type FrequencyCap = z.infer<typeof frequencyCap>;

const creatorFields = z.object({
  name: z.string().trim().min(1).max(200),
  handle,
  email: email.nullish(),
  phone: phone.nullish(),
  timezone: timezone.default("UTC"),
  status: z.enum(["ONBOARDING", "ACTIVE", "PAUSED", "ARCHIVED"]).default("ACTIVE"),
  quietHoursStart: timeOfDay.optional(),
  quietHoursEnd: timeOfDay.optional(),
  quietHoursPolicy: z.enum(["DEFER", "SKIP"]).optional(),
  frequencyCaps: z
    .array(frequencyCap)
    .refine((caps) => new Set(caps.map((c) => c.channel)).size === caps.length, "one cap per channel")
    .optional(),
});

export type CreatorInput = z.input<typeof creatorFields>;

/** The parsed input as columns: the caps list becomes the stored object keyed by channel. */
function toFields<T extends Partial<z.output<typeof creatorFields>>>(
  input: T,
): Omit<T, "frequencyCaps"> & Partial<CreatorFields> {
  const { frequencyCaps, ...rest } = input;
  return {
    ...rest,
    ...(frequencyCaps
      ? { frequencyCaps: Object.fromEntries(frequencyCaps.map(({ channel, ...cap }) => [channel, cap])) }
      : {}),
  };
}

function rethrowUniqueHandle(error: unknown): never {
  if (isHandleTaken(error)) throw new ConflictError("A creator with this handle already exists");
  throw error;
}

/** Creates a creator, audited. Raises ValidationError, ConflictError (handle taken). */
export async function createCreator(input: CreatorInput, actor: Viewer | null): Promise<Creator> {
  const parsed = creatorFields.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error);
  return inTransaction(async (tx) => {
    const creator = await insertCreator(tx, toFields(parsed.data));
    await recordAudit(tx, actor, {
      operation: "creator.create",
      creatorId: creator.id,
      targetType: "Creator",
      targetId: creator.id,
      details: { handle: creator.handle },
    });
    return creator;
  }).catch(rethrowUniqueHandle);
}

/** Changes the fields sent, audited. Raises ValidationError, NotFoundError, ConflictError (handle taken). */
export async function updateCreator(id: string, input: Partial<CreatorInput>, actor: Viewer | null): Promise<Creator> {
  const parsed = creatorFields.partial().safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error);
  // Only the fields the caller sent change; `partial()` keeps defaults from filling the rest.
  const sent = Object.fromEntries(
    Object.entries(parsed.data).filter(([k]) => k in input && input[k as keyof CreatorInput] !== undefined),
  );
  return inTransaction(async (tx) => {
    const creator = await updateCreatorFields(tx, id, toFields(sent));
    if (!creator) throw new NotFoundError("Creator", id);
    await recordAudit(tx, actor, {
      operation: "creator.update",
      creatorId: id,
      targetType: "Creator",
      targetId: id,
      details: { fields: Object.keys(sent) },
    });
    return creator;
  }).catch(rethrowUniqueHandle);
}
