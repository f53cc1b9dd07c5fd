import { pino } from "pino";
import { config } from "./config.js";

// Contact details and secrets never reach the logs: any field with one of these names is redacted.
const CONTACT_FIELDS = ["email", "phone", "to", "externalId", "authorization", "secret", "token"];

export const logger = pino({
  level: config().LOG_LEVEL,
  base: { service: process.env.CLOSER_PROCESS ?? "closer" },
  timestamp: pino.stdTimeFunctions.isoTime,
  redact: {
    paths: [...CONTACT_FIELDS, ...CONTACT_FIELDS.map((f) => `*.${f}`)],
    censor: "[redacted]",
  },
});
