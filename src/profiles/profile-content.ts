import { z } from "zod";
import { webUrl } from "../validation.js";

// The shape of a sales profile, shared by the LLM output validation, hand edits and the agent.

export const serviceSchema = z.object({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000).default(""),
  price: z.number().nonnegative().nullable().default(null),
  /** ISO 4217, upper case. */
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, "must be a 3-letter ISO currency code")
    .nullable()
    .default(null),
  url: webUrl.nullable().default(null),
  durationMinutes: z.number().int().positive().nullable().default(null),
  /** A short pitch for this service, used in follow-ups after repeated views. */
  pitch: z.string().max(2000).default(""),
});

export const objectionSchema = z.object({
  objection: z.string().trim().min(1).max(500),
  response: z.string().trim().min(1).max(2000),
});

export const profileContentSchema = z.object({
  summary: z.string().trim().min(1).max(20_000),
  salesPitch: z.string().trim().min(1).max(20_000),
  targetAudience: z.string().trim().min(1).max(10_000),
  valuePropositions: z.array(z.string().trim().min(1).max(1000)).min(1).max(20),
  services: z.array(serviceSchema).max(50),
  agentInstructions: z.string().trim().min(1).max(20_000),
  objectionHandling: z.array(objectionSchema).max(50),
});

export type ProfileService = z.infer<typeof serviceSchema>;
export type ObjectionResponse = z.infer<typeof objectionSchema>;
export type ProfileContent = z.infer<typeof profileContentSchema>;
