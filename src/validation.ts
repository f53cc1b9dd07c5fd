import { parsePhoneNumberFromString } from "libphonenumber-js";
import { z } from "zod";

// Field rules shared by every input that carries them.

export const timezone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: "must be an IANA time zone such as Europe/Paris" },
);

/** Trimmed and lower-cased before the check, so " Home@Example.org " and "home@example.org" are one address. */
export const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ message: "must be an email address" }).max(254));

const PHONE_MESSAGE = "must be an international number such as +14155550123";

/**
 * An international number (a leading +, any spacing or punctuation) stored as E.164, which WhatsApp
 * and SMS providers accept: "+34 612 345 678" becomes "+34612345678". Accepted when its length is
 * possible for its country code, not only when the digits are valid: libphonenumber's metadata
 * lags newly opened ranges, and one refused phone refuses a whole batch of events. An extension
 * cannot be dialled by those providers, so a number with one is refused rather than cut.
 */
export const phone = z.string().transform((value, ctx) => {
  const number = parsePhoneNumberFromString(value.trim(), { extract: false });
  if (!number?.isPossible() || number.ext) {
    ctx.addIssue({ code: "custom", message: PHONE_MESSAGE });
    return z.NEVER;
  }
  return number.number;
});

/**
 * A URL that may end up in a message or a request: http or https with a host, nothing else
 * (javascript:, data:, file: and the like would run or read something where they land).
 */
export const webUrl = z.url({ protocol: /^https?$/, message: "must be an http or https URL" });

/** ISO 4217 codes, upper case, from the runtime's own list (Intl): the one list every check reads. */
export const CURRENCY_CODES: ReadonlySet<string> = new Set(Intl.supportedValuesOf("currency"));

/**
 * An ISO 4217 currency code, in any case ("eur" is EUR): three ASCII letters first, since
 * JavaScript upper-cases look-alikes into them ("uſd" is "USD", "ınr" is "INR") where SQL's
 * upper() does not.
 */
export const currencyCode = z
  .string()
  .refine(
    (code) => /^[A-Za-z]{3}$/.test(code) && CURRENCY_CODES.has(code.toUpperCase()),
    "must be an ISO 4217 currency code such as USD",
  );

export const handle = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9_-]{1,62}[a-z0-9])$/, "3 to 64 lowercase letters, digits, _ or -");

/** "HH:MM" in 24-hour time, as minutes after midnight. */
export const timeOfDay = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be HH:MM in 24-hour time")
  .transform((t) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3)));

export function formatTimeOfDay(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}
