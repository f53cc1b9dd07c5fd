import { type CountryCode, type PhoneNumber, parsePhoneNumberFromString } from "libphonenumber-js/max";

// A WhatsApp id (wa_id) is the account's phone number in digits, as it was when the account was
// registered. Where a country renumbered since (Brazil added a ninth digit to mobiles in
// 2012-2016; Mexico dropped the "1" after +52 in 2019), older accounts keep the old form, which
// today's numbering plan no longer holds valid. The library's numbering data (libphonenumber's
// metadata, "max" build for number types) tells which forms are valid today.

/** Number types a WhatsApp account can stand for after renumbering: mobiles. */
const MOBILE_TYPES = new Set(["MOBILE", "FIXED_LINE_OR_MOBILE"]);

function validMobile(e164: string, country: CountryCode | undefined): PhoneNumber | null {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed?.isValid() || parsed.country !== country) return null;
  return MOBILE_TYPES.has(parsed.getType() ?? "") ? parsed : null;
}

/**
 * The E.164 numbers a wa_id may stand for, best first: the wa_id's own number, then, only when
 * that is not a valid number today, each number one digit away (one digit inserted into or
 * removed from the national number) that the numbering data holds a valid mobile of the same
 * country: for an old Brazilian "55 11 8765-4321", "+5511987654321". A valid number is never
 * reinterpreted, so no one else's number is ever offered in its place.
 * Returns [] when the wa_id is not a possible number at all.
 */
export function numbersOfWaId(waId: string): string[] {
  const digits = waId.replace(/\D/g, "");
  const parsed = parsePhoneNumberFromString(`+${digits}`);
  if (!parsed) return [];
  const own = parsed.number;
  if (parsed.isValid()) return [own];
  const national = parsed.nationalNumber;
  const prefix = `+${parsed.countryCallingCode}`;
  const variants = new Set<string>();
  for (let at = 0; at <= national.length; at++) {
    for (let digit = 0; digit <= 9; digit++) {
      variants.add(`${prefix}${national.slice(0, at)}${digit}${national.slice(at)}`);
    }
    if (at < national.length) variants.add(`${prefix}${national.slice(0, at)}${national.slice(at + 1)}`);
  }
  const country = parsed.country ?? countryOfCallingCode(prefix, national);
  const valid = [...variants].filter((e164) => validMobile(e164, country) !== null);
  return [own, ...valid];
}

/** An invalid number has no country of its own: the one its calling code's valid numbers name. */
function countryOfCallingCode(prefix: string, national: string): CountryCode | undefined {
  for (let cut = national.length; cut > 0; cut--) {
    const country = parsePhoneNumberFromString(`${prefix}${national.slice(0, cut)}`)?.country;
    if (country) return country;
  }
  return undefined;
}

/** The E.164 form of a wa_id (its digits with a +), when it is a possible number. */
export function e164OfWaId(waId: string): string | null {
  const parsed = parsePhoneNumberFromString(`+${waId.replace(/\D/g, "")}`);
  return parsed?.isPossible() ? parsed.number : null;
}
