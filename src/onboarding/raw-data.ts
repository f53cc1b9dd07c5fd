import { z } from "zod";
import { email, handle, phone, timezone, webUrl } from "../validation.js";

// What a creator gives us to be onboarded. Stored as the onboarding's rawData, so a profile can be
// regenerated later from exactly what was sent.

/** Absent and null lists both mean "none", so GraphQL clients may send either. */
const listOf = <T extends z.ZodType>(item: T, max: number) =>
  z
    .array(item)
    .max(max)
    .nullish()
    .transform((items) => items ?? []);

const text = (max: number) => z.string().trim().max(max).nullish();

const rawServiceSchema = z.object({
  name: z.string().trim().min(1).max(200),
  description: text(5_000),
  price: z.number().nonnegative().nullish(),
  currency: z
    .string()
    .trim()
    .toUpperCase()
    .regex(/^[A-Z]{3}$/, "must be a 3-letter ISO currency code")
    .nullish(),
  url: webUrl.nullish(),
  durationMinutes: z
    .number()
    .int()
    .positive()
    .max(60 * 24 * 365)
    .nullish(),
});

export const rawDataSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    handle,
    email: email.nullish(),
    phone: phone.nullish(),
    timezone: timezone.nullish(),
    bio: text(10_000),
    services: listOf(rawServiceSchema, 50),
    links: listOf(webUrl, 50),
    testimonials: listOf(z.string().trim().min(1).max(2_000), 50),
    audienceNotes: text(10_000),
    freeText: text(50_000),
  })
  .refine((raw) => raw.bio || raw.services.length > 0 || raw.freeText, {
    message: "give at least a bio, a service or free text: the profile is made from them",
    path: ["bio"],
  });

export type RawDataInput = z.input<typeof rawDataSchema>;
export type RawData = z.output<typeof rawDataSchema>;
export type RawService = RawData["services"][number];
