import { decodeHTML } from "entities";
import { jsonrepair } from "jsonrepair";
import { Duration } from "luxon";
import removeMarkdown from "remove-markdown";
import type { FieldIssue } from "../errors.js";
import { type ProfileContent, profileContentSchema } from "../profiles/profile-content.js";

// Models answer "JSON" in many shapes: fenced, wrapped in prose, JSON5-like (comments, trailing
// commas, single quotes, bare keys), with raw control characters, the seed's snake_case names,
// lists where text is expected and the reverse, prices as "$1,200". Everything here turns such an
// answer into a ProfileContent when the meaning is unambiguous, notes each repair for the
// onboarding log, and otherwise reports what is wrong so the model can be asked once more.

export type ProfileCheck =
  | { ok: true; profile: ProfileContent; repairs: string[] }
  | { ok: false; issues: FieldIssue[]; repairs: string[] };

/**
 * Parses, repairs and validates a model's answer (text meant to be one JSON profile). Never
 * throws: an answer cut off at the token limit, longer than MAX_ANSWER_CHARS, nested deeper than
 * MAX_DEPTH, unreadable as JSON or not a valid profile once repaired comes back as `ok: false`
 * with issues (path "" for the whole answer) to give the model back. `repairs` names, once each,
 * what was changed to read it. Prices in the profile are amounts in the currency's main unit
 * (240.5 EUR is 240.5).
 */
export function repairProfileAnswer(
  answer: string | null | undefined,
  /** The model stopped at its token limit (finish_reason "length"): whatever parses is not the whole answer. */
  options: { truncated?: boolean } = {},
): ProfileCheck {
  const repairs: string[] = [];
  if (options.truncated) {
    return {
      ok: false,
      issues: [{ path: "", message: "the answer was cut off at the token limit: a truncated answer is never taken" }],
      repairs,
    };
  }
  const bounded = outOfBounds(answer ?? "");
  if (bounded) return { ok: false, issues: [{ path: "", message: bounded }], repairs };
  const parsed = parseLenientJson(answer ?? "", repairs);
  if (!parsed.ok) return { ok: false, issues: [{ path: "", message: parsed.error }], repairs };
  return checkProfile(parsed.value, repairs);
}

/** Repairs the structure of an already parsed profile, then validates it against the profile schema. */
export function checkProfile(value: unknown, repairs: string[] = []): ProfileCheck {
  const result = profileContentSchema.safeParse(normaliseProfile(value, repairs));
  const distinctRepairs = [...new Set(repairs)];
  if (result.success) return { ok: true, profile: result.data, repairs: distinctRepairs };
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
  return { ok: false, issues, repairs: distinctRepairs };
}

// ---------------------------------------------------------------------------------------------
// Text to value

/** A profile is a few kilobytes; a model in a repetition loop writes far more. */
const MAX_ANSWER_CHARS = 200_000;
/** A profile nests four levels (profile, services, service, field); deeper is a runaway answer. */
const MAX_DEPTH = 32;
const TOO_DEEP = `the answer is nested more than ${MAX_DEPTH} levels deep`;
/**
 * Quotes out of place that jsonrepair is given at most. Its time grows faster than the square of
 * their number (measured with jsonrepair 3.15.0: 1,000 take 0.1 s, 4,000 take 3.4 s, as a model's
 * repetition loop writes them), while a real answer has a few: unescaped inner quotes, a
 * single-quoted JSON5 string each. Above this the answer is refused at once, like one too deep.
 */
const MAX_STRAY_QUOTES = 400;

/**
 * How deep a text nests, read in one linear pass so that nothing recursive sees a runaway answer
 * first: its deepest bracket (the scan stops once past MAX_DEPTH), and whether it ends with a
 * bracket or a string still open, as a truncated answer does. Parentheses count: jsonrepair
 * descends into them too (it reads `NumberLong(2)`). Strings are JSON's, double-quoted.
 */
function nesting(text: string): { deepest: number; open: boolean } {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length && deepest <= MAX_DEPTH; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[" || c === "(") deepest = Math.max(deepest, ++depth);
    else if (c === "}" || c === "]" || c === ")") depth = Math.max(0, depth - 1);
  }
  return { deepest, open: depth > 0 || inString };
}

/**
 * Why an answer is refused as a whole before it is read (too long, or brackets nested past
 * MAX_DEPTH, as a model's repetition loop writes them, even in a tail that reading would cut off),
 * or null.
 */
function outOfBounds(answer: string): string | null {
  if (answer.length > MAX_ANSWER_CHARS) {
    return `the answer is ${answer.length} characters long, more than a profile's ${MAX_ANSWER_CHARS}`;
  }
  return nesting(answer).deepest > MAX_DEPTH ? TOO_DEEP : null;
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** The answer's JSON value: the answer itself, or the one it holds among fences, prose and drafts. */
function parseLenientJson(answer: string, repairs: string[]): Parsed {
  let text = answer.replace(/^\uFEFF/, "").trim();
  if (text === "") return { ok: false, error: "the answer is empty" };

  // A reasoning model's thinking is no part of the answer (it may hold a draft object).
  const thought = text.replace(/<(think|thinking|reasoning|analysis)>[\s\S]*?(<\/\1>|$)/gi, "").trim();
  if (thought !== text) {
    repairs.push("removed a reasoning block");
    text = thought;
  }
  // Typographic quotes used as JSON's own delimiters ({“name”: “Sprint”}).
  if (/[{,[]\s*[“”]|[“”]\s*[:,}\]]/.test(text) && !/[{,]\s*"/.test(text)) {
    text = text.replace(/[“”„]/g, '"').replace(/[‘’]/g, "'");
    repairs.push("read typographic quotes as JSON quotes");
  }
  // A fence opens a line; a truncated answer may never close it. Of several (a draft, then "here
  // is the corrected version"), the last one holding an object is the answer.
  const fences = [...text.matchAll(/(?:^|\n)```[a-zA-Z]*[^\S\n]*\n?([\s\S]*?)(?:```|$)/g)].filter((f) =>
    f[1].includes("{"),
  );
  const fenced = fences.at(-1);
  if (fenced) {
    text = fenced[1].trim();
    repairs.push(fences.length > 1 ? "took the last of several fenced answers" : "removed a Markdown code fence");
  }
  if (text.startsWith('"')) {
    try {
      const inner: unknown = JSON.parse(text);
      if (typeof inner === "string") {
        text = inner.trim();
        repairs.push("decoded a double-encoded answer");
      }
    } catch {
      // A string that does not parse: read on, as for any other text.
    }
  }
  // Tabs and line breaks stay: they are whitespace between tokens, and escaped later inside strings.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
  const withoutControls = text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, "");
  if (withoutControls !== text) repairs.push("removed control characters");
  text = withoutControls;

  // The profile is an object; an array only when the model wrapped it in one ("[{...}]").
  const wrapped = /\[\s*\{/.exec(text);
  const objectStart = text.indexOf("{");
  const inArray = wrapped !== null && wrapped.index < objectStart;
  const start = inArray ? wrapped.index : objectStart;
  if (start === -1) return { ok: false, error: `the answer is not JSON: "${preview(text)}"` };
  // Two complete objects one after the other (a draft, then the final): the last one is the answer.
  // Braces in the prose around it ("fill in {salesPitch}") are no answer: only objects at least
  // half as long as the longest count.
  const all = inArray ? [] : topLevelObjects(text);
  const longest = Math.max(0, ...all.map((o) => o.end - o.start));
  const objects = all.filter((o) => o.end - o.start >= longest / 2);
  if (all.length > 1) {
    repairs.push(objects.length > 1 ? "took the last of several JSON objects" : "removed text around the JSON");
    const last = objects[objects.length - 1];
    text = text.slice(last.start, last.end + 1);
    return parseLenientJson(text, repairs);
  }
  const end = text.lastIndexOf(inArray ? "]" : "}");
  const json = end > start ? text.slice(start, end + 1) : text.slice(start);
  if (json.length !== text.length) repairs.push("removed text around the JSON");
  return parseJsonText(json, repairs);
}

/**
 * Strict JSON as it is; anything else read by jsonrepair (single quotes, bare keys, Python
 * literals, missing commas, unescaped inner quotes, a stray closing brace, what a truncated answer
 * left open), after repairOutsideStrings. Depth is bounded here, before any recursive parser
 * runs, whatever the text: the answer, or a JSON string decoded from it.
 */
function parseJsonText(json: string, repairs: string[]): Parsed {
  const { deepest, open } = nesting(json);
  if (deepest > MAX_DEPTH) return { ok: false, error: TOO_DEEP };
  try {
    return { ok: true, value: JSON.parse(json) };
  } catch {
    // Not strict JSON: read leniently below.
  }
  const stray = strayQuotes(json);
  if (stray > MAX_STRAY_QUOTES) {
    return {
      ok: false,
      error: `the answer has ${stray} quotes out of place, more than ${MAX_STRAY_QUOTES}: too broken to read`,
    };
  }
  const prepared = repairOutsideStrings(json, repairs);
  let repaired: string;
  let value: unknown;
  try {
    repaired = jsonrepair(prepared);
    value = JSON.parse(repaired);
  } catch (error) {
    // An unescaped quote can hide brackets from nesting()'s reading of strings while jsonrepair,
    // which reads that quote as part of the text, descends into them: its stack overflow is the
    // same refusal.
    if (error instanceof RangeError) return { ok: false, error: TOO_DEEP };
    return { ok: false, error: `the answer is not valid JSON, even leniently read: ${(error as Error).message}` };
  }
  // On jsonrepair's strict JSON the scan reads strings exactly: the bound holds whatever hid from the first one.
  if (nesting(repaired).deepest > MAX_DEPTH) return { ok: false, error: TOO_DEEP };
  if (repaired !== prepared) repairs.push("repaired the JSON syntax");
  if (open) repairs.push("closed a truncated answer");
  return { ok: true, value };
}

/**
 * Quotes no JSON or JSON5 string would put there, counted in one pass: a double quote with no
 * bracket, brace, comma or colon next to it on either side (spaces skipped), as an unescaped
 * inner quote has; a single quote that opens a word after anything but one of those, as none of
 * JSON5's strings does (an apostrophe, "it's", follows a letter and is not counted).
 */
function strayQuotes(json: string): number {
  const structural = (c: string | undefined) => c === undefined || "{}[],:".includes(c);
  const before = (i: number) => {
    let j = i - 1;
    while (j >= 0 && /\s/.test(json[j])) j--;
    return json[j];
  };
  const after = (i: number) => {
    let j = i + 1;
    while (j < json.length && /\s/.test(json[j])) j++;
    return json[j];
  };
  let count = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"' && json[i - 1] !== "\\" && !structural(before(i)) && !structural(after(i))) count++;
    else if (
      c === "'" &&
      !/\p{L}/u.test(json[i - 1] ?? "") &&
      /\p{L}/u.test(json[i + 1] ?? "") &&
      !structural(before(i))
    ) {
      count++;
    }
  }
  return count;
}

/**
 * What repairOutsideStrings looks at. Alternatives are tried left to right at each place, so a
 * string is taken whole before anything inside it could match.
 */
const OUTSIDE_STRINGS = new RegExp(
  [
    // A string, kept: JSON's (which models also break over lines), or single-quoted (JSON5, Python).
    String.raw`(?<string>"(?:[^"\\]|\\[\s\S])*"|'(?:[^'\\\n]|\\.)*')`,
    // A comment where it starts a line or follows a space: `https://…` and `…/#plans` in a bare value are none.
    String.raw`(?<comment>(?<!\S)(?:(?:#|\/\/)[^\n]*|\/\*[\s\S]*?(?:\*\/|$)))`,
    // A bare number with thousands separators after a key's colon, the whole value.
    String.raw`(?<colon>:[^\S\n]*)(?<number>-?\d{1,3}(?:,\d{3})+(?:\.\d+)?)(?=[^\S\n]*(?:[,}\]\r\n#/]|$))`,
    // A trailing comma.
    String.raw`(?<comma>,)(?=\s*[}\]])`,
  ].join("|"),
  "g",
);

/**
 * Rewrites, outside strings, what jsonrepair cannot read or would repair without a word for the
 * log, and notes each kind of change in `repairs`:
 * - comments are removed: jsonrepair skips `//` and `/* *\/`, but reads a `#` comment (Python's,
 *   YAML's) as a bare key;
 * - `"price": 14,999` is read as 14999: jsonrepair reads 14, then `999` as a key, and stops. After
 *   a colon, digits grouped by three after commas can only be one number (a key is never a bare
 *   number, in JSON or JSON5); in an array, `[14,999]` is two numbers and is left alone;
 * - trailing commas are removed here rather than by jsonrepair so that the log names models' most
 *   common slip.
 * Text inside strings is never changed.
 */
function repairOutsideStrings(json: string, repairs: string[]): string {
  return json.replace(OUTSIDE_STRINGS, (match: string, ...rest: unknown[]) => {
    const { string, comment, colon, number, comma } = rest.at(-1) as Record<string, string | undefined>;
    if (string !== undefined) return match;
    if (comment !== undefined) repairs.push("removed comments");
    if (comma !== undefined) repairs.push("removed trailing commas");
    if (number === undefined) return "";
    const digits = number.replaceAll(",", "");
    repairs.push(`read the number ${number} as ${digits}`);
    return `${colon}${digits}`;
  });
}

/**
 * The complete objects at the top level of a text, in order (braces balanced outside strings),
 * each with where it starts and ends; a last one left open is not among them.
 */
function topLevelObjects(text: string): { start: number; end: number }[] {
  const found: { start: number; end: number }[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"' && depth > 0) inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && depth > 0 && --depth === 0) found.push({ start, end: i });
  }
  return found;
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

// ---------------------------------------------------------------------------------------------
// Value to profile shape

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Compares key names whatever their case or separators: "sales_pitch", "Sales Pitch", "salesPitch". */
const keyOf = (name: string) =>
  name
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "");

/** ISO 4217 codes, from the runtime's own list (Intl). */
const CURRENCY_CODES = new Set(Intl.supportedValuesOf("currency"));

const PROFILE_ALIASES: Record<string, keyof ProfileContent> = {
  summary: "summary",
  llmsummary: "summary",
  profilesummary: "summary",
  creatorsummary: "summary",
  overview: "summary",
  salespitch: "salesPitch",
  pitch: "salesPitch",
  targetaudience: "targetAudience",
  targetaudiencedescription: "targetAudience",
  audience: "targetAudience",
  idealcustomer: "targetAudience",
  valuepropositions: "valuePropositions",
  valueproposition: "valuePropositions",
  valueprops: "valuePropositions",
  benefits: "valuePropositions",
  services: "services",
  offerings: "services",
  products: "services",
  agentinstructions: "agentInstructions",
  instructions: "agentInstructions",
  salesinstructions: "agentInstructions",
  objectionhandling: "objectionHandling",
  objections: "objectionHandling",
  objectionresponses: "objectionHandling",
};

const SERVICE_ALIASES: Record<string, string> = {
  name: "name",
  title: "name",
  service: "name",
  servicename: "name",
  description: "description",
  details: "description",
  summary: "description",
  price: "price",
  cost: "price",
  fee: "price",
  amount: "price",
  pricing: "price",
  rate: "price",
  currency: "currency",
  currencycode: "currency",
  url: "url",
  link: "url",
  href: "url",
  website: "url",
  bookingurl: "url",
  durationminutes: "durationMinutes",
  duration: "durationMinutes",
  durationmins: "durationMinutes",
  length: "durationMinutes",
  minutes: "durationMinutes",
  sessionlength: "durationMinutes",
  pitch: "pitch",
  salespitch: "pitch",
  // Spanish, Portuguese, French, German keys models answer with when the raw data is in those languages.
  nombre: "name",
  nome: "name",
  nom: "name",
  descripcion: "description",
  descricao: "description",
  precio: "price",
  preco: "price",
  prix: "price",
  preis: "price",
  moneda: "currency",
  moeda: "currency",
  devise: "currency",
  wahrung: "currency",
  pricecurrency: "currency",
  duracion: "durationMinutes",
  duracao: "durationMinutes",
  duree: "durationMinutes",
  dauer: "durationMinutes",
  enlace: "url",
  lien: "url",
};

const OBJECTION_KEYS = new Set(["objection", "question", "concern", "obstacle"]);
const RESPONSE_KEYS = new Set(["response", "answer", "reply", "rebuttal", "handling"]);

function renameKeys(value: Json, aliases: Record<string, string>, repairs: string[], what: string): Json {
  const renamed: Json = {};
  for (const [key, field] of Object.entries(value)) {
    const target = aliases[keyOf(key)];
    if (!target) continue;
    if (target !== key) repairs.push(`renamed ${what} field "${key}" to "${target}"`);
    if (!(target in renamed) || renamed[target] == null) renamed[target] = field;
  }
  return renamed;
}

function looksLikeProfile(value: unknown): value is Json {
  return isObject(value) && Object.keys(value).some((key) => keyOf(key) in PROFILE_ALIASES && keyOf(key) !== "pitch");
}

function normaliseProfile(value: unknown, repairs: string[]): unknown {
  let root = value;
  if (Array.isArray(root) && root.length === 1 && isObject(root[0])) {
    repairs.push("unwrapped a one-element array");
    root = root[0];
  }
  // Envelopes: { profile: {...} }, { data: { profile: {...} } }, { response: "<the JSON as a string>" }.
  for (let level = 0; level < 3 && isObject(root) && !looksLikeProfile(root); level++) {
    const entries = Object.entries(root).map(([key, v]): [string, unknown] => {
      if (typeof v !== "string" || !v.trim().startsWith("{")) return [key, v];
      const parsed = parseLenientJson(v, []);
      return [key, parsed.ok ? parsed.value : v];
    });
    const inner =
      entries.find(([, v]) => looksLikeProfile(v)) ?? entries.find(([, v]) => isObject(v) && Object.keys(v).length > 0);
    if (!inner || !isObject(inner[1])) break;
    repairs.push(`unwrapped the profile from "${inner[0]}"`);
    root = inner[1];
  }
  if (!isObject(root)) return root;

  const profile = renameKeys(root, PROFILE_ALIASES, repairs, "profile");
  for (const field of ["summary", "salesPitch", "targetAudience", "agentInstructions"] as const) {
    if (field in profile && typeof profile[field] !== "string") {
      profile[field] = toText(profile[field]);
      repairs.push(`joined ${field} into text`);
    }
  }
  if ("valuePropositions" in profile) profile.valuePropositions = toList(profile.valuePropositions, repairs);
  if ("services" in profile) profile.services = normaliseServices(profile.services, repairs);
  if ("objectionHandling" in profile)
    profile.objectionHandling = normaliseObjections(profile.objectionHandling, repairs);
  cleanTextFields(profile, repairs);
  return profile;
}

/**
 * Plain text as a consumer reads it: HTML entities decoded (`&amp;`, `&#39;`, `&nbsp;`, by the
 * `entities` library), `<br>` as a line break, Markdown and other tags removed (`remove-markdown`).
 * The profile's copy is sent word for word, so "**Sprint** &amp; more" must not reach a consumer.
 */
export function plainText(text: string): string {
  const decoded = decodeHTML(text.replace(/<br\s*\/?>/gi, "\n")).replace(/\u00a0/g, " ");
  return removeMarkdown(decoded, { gfm: true, useImgAltText: true, stripListLeaders: true })
    .replace(/[^\S\n]+/g, " ")
    .replace(/ *\n */g, "\n")
    .trim();
}

const TEXT_FIELDS = ["summary", "salesPitch", "targetAudience", "agentInstructions"] as const;

function cleanTextFields(profile: Json, repairs: string[]): void {
  let changed = false;
  const clean = (value: unknown): unknown => {
    if (typeof value !== "string") return value;
    const plain = plainText(value);
    if (plain !== value.trim()) changed = true;
    return plain;
  };
  const cleanFields = (item: unknown, fields: readonly string[]) => {
    if (!isObject(item)) return;
    for (const field of fields) if (field in item) item[field] = clean(item[field]);
  };
  cleanFields(profile, TEXT_FIELDS);
  if (Array.isArray(profile.valuePropositions)) profile.valuePropositions = profile.valuePropositions.map(clean);
  if (Array.isArray(profile.services))
    for (const s of profile.services) cleanFields(s, ["name", "description", "pitch"]);
  if (Array.isArray(profile.objectionHandling)) {
    for (const o of profile.objectionHandling) cleanFields(o, ["objection", "response"]);
  }
  if (changed) repairs.push("decoded HTML entities and removed Markdown from text");
}

/** Text from whatever the model gave: paragraphs in a list, a number, an object of sections. */
function toText(value: unknown): string | undefined {
  if (value == null) return undefined;
  if (typeof value === "string") return value;
  if (Array.isArray(value))
    return value
      .map(toText)
      .filter((part) => part?.trim())
      .join("\n\n");
  if (isObject(value)) return toText(Object.values(value));
  return String(value);
}

const BULLET = /^\s*(?:[-*•·–]|\d+[.)])\s+/;

/** A list of strings from a list, a bulleted or line-separated string, or a list of objects. */
function toList(value: unknown, repairs: string[]): unknown {
  let items: unknown[];
  if (typeof value === "string") {
    const lines = value.split(/\r?\n/).filter((line) => line.trim());
    items = lines.length > 1 ? lines : value.split(";");
    repairs.push("split valuePropositions into a list");
  } else if (Array.isArray(value)) {
    items = value;
  } else if (isObject(value)) {
    items = Object.entries(value).map(([key, v]) => (typeof v === "string" ? `${key}: ${v}` : key));
    repairs.push("turned valuePropositions into a list");
  } else {
    return value;
  }
  const list = items
    .map((item) => (isObject(item) ? Object.values(item).map(toText).filter(Boolean).join(": ") : toText(item)))
    .map((item) => item?.replace(BULLET, "").trim())
    .filter((item): item is string => Boolean(item));
  if (list.length > 20) repairs.push(`kept the first 20 of ${list.length} value propositions`);
  return list.slice(0, 20);
}

function normaliseServices(value: unknown, repairs: string[]): unknown {
  let items: unknown[];
  if (value === null) {
    repairs.push("read services: null as no services");
    return [];
  }
  if (Array.isArray(value)) {
    items = value;
  } else if (isObject(value) && Object.values(value).every((v) => Array.isArray(v) && v.every(isObject))) {
    // { "Courses": [{...}], "Coaching": [{...}] }: categories, each a list of services.
    items = Object.values(value).flat();
    repairs.push("took the services out of their categories");
  } else if (isObject(value) && !Object.keys(value).some((key) => SERVICE_ALIASES[keyOf(key)] === "name")) {
    // { "Coaching": { price: ... }, "Course": "..." }: the keys are the services' names.
    items = Object.entries(value).map(([name, v]) => (isObject(v) ? { name, ...v } : { name, description: toText(v) }));
    repairs.push("turned services from an object map into a list");
  } else if (isObject(value)) {
    items = [value];
    repairs.push("wrapped a single service in a list");
  } else {
    return value;
  }
  return items
    .map((item) => (typeof item === "string" ? { name: item } : item))
    .map((item) => normaliseService(item, repairs));
}

function normaliseService(value: unknown, repairs: string[]): unknown {
  if (!isObject(value)) return value;
  // "price_usd": 450 is a price and its currency.
  for (const [key, given] of Object.entries(value)) {
    const code = /^(?:price|precio|preco|prix|preis|cost)([a-z]{3})$/.exec(keyOf(key))?.[1]?.toUpperCase();
    if (!code || !CURRENCY_CODES.has(code)) continue;
    delete value[key];
    value.price ??= given;
    value.currency ??= code;
    repairs.push(`read ${key} as a price in ${code}`);
  }
  const service = renameKeys(value, SERVICE_ALIASES, repairs, "service");
  for (const field of ["name", "description", "pitch"] as const) {
    if (service[field] === null) delete service[field];
    else if (field in service && typeof service[field] !== "string") service[field] = toText(service[field]);
  }
  const { price: givenPrice, currency: givenCurrency } = service;
  const price = parsePrice(givenPrice);
  const currency = parseCurrency(givenCurrency) ?? price.currency;
  if (price.amount !== givenPrice && givenPrice != null)
    repairs.push(`read price ${JSON.stringify(givenPrice)} as ${price.amount}`);
  if (currency !== givenCurrency && (givenCurrency != null || currency != null)) {
    repairs.push(`read currency ${JSON.stringify(givenCurrency ?? givenPrice)} as ${currency}`);
  }
  service.price = price.amount;
  service.currency = currency;
  const minutes = parseDurationMinutes(service.durationMinutes);
  if (minutes !== service.durationMinutes && service.durationMinutes != null) {
    repairs.push(`read duration ${JSON.stringify(service.durationMinutes)} as ${minutes} minutes`);
  }
  service.durationMinutes = minutes;
  const url = parseUrl(service.url);
  if (url !== service.url && service.url != null) repairs.push(`read url ${JSON.stringify(service.url)} as ${url}`);
  service.url = url;
  return service;
}

const CURRENCY_SYMBOLS: [RegExp, string][] = [
  [/US\$|\$US/i, "USD"],
  [/CA\$|C\$/i, "CAD"],
  [/AU\$|A\$/i, "AUD"],
  [/\$/, "USD"],
  [/€/, "EUR"],
  [/£/, "GBP"],
  [/₹|\brs\.?(?=\s|\d|$)/i, "INR"],
  [/¥/, "JPY"],
  [/\bdollars?\b/i, "USD"],
  [/\beuros?\b/i, "EUR"],
  [/\bpounds?\b/i, "GBP"],
  [/\brupees?\b/i, "INR"],
];

function parseCurrency(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const code = /\b([A-Za-z]{3})\b/.exec(value.trim());
  if (code && value.trim().length === 3) return code[1].toUpperCase();
  return currencyIn(value);
}

function currencyIn(text: string): string | null {
  const code = /\b(USD|EUR|GBP|INR|CAD|AUD|JPY|CHF|SGD|NZD|BRL|MXN|ZAR|SEK|NOK|DKK|AED)\b/i.exec(text);
  if (code) return code[1].toUpperCase();
  return CURRENCY_SYMBOLS.find(([pattern]) => pattern.test(text))?.[1] ?? null;
}

/** "$1,200" -> 1200 USD, "€49,99" -> 49.99 EUR, "Free" -> 0, { amount, currency }, "Contact us" -> null. */
function parsePrice(value: unknown): { amount: number | null; currency: string | null } {
  if (typeof value === "number") return { amount: Number.isFinite(value) && value >= 0 ? value : null, currency: null };
  if (isObject(value)) {
    const amount = parsePrice(value.amount ?? value.value ?? value.price).amount;
    return { amount, currency: parseCurrency(value.currency) };
  }
  if (typeof value !== "string") return { amount: null, currency: null };
  const currency = currencyIn(value);
  // "Was €300, now €240" costs 240: what follows "now" is the price.
  const now = /\b(now|today|ahora|agora|maintenant|jetzt)\b/i.exec(value);
  const text = now ? value.slice(now.index) : value;
  // The amount next to a currency sign wins: "2 sessions for $300" costs 300; "Free trial, then
  // $29/month" costs 29.
  const match = /[$€£₹¥]\s*(\d[\d.,\s]*)([km])?\b/i.exec(text) ?? /(\d[\d.,\s]*)([km])?\b/i.exec(text);
  if (!match) return { amount: /^\s*free\b/i.test(value) ? 0 : null, currency };
  const amount = parseDecimal(match[1].trim());
  // "$1.5k" is 1,500.
  const scale = { k: 1_000, m: 1_000_000 }[match[2]?.toLowerCase() as "k" | "m"] ?? 1;
  return { amount: amount === null ? null : Math.round(amount * scale * 100) / 100, currency };
}

/** Both "1,200.50" and "1.200,50": the last separator followed by one or two digits is the decimal point. */
function parseDecimal(text: string): number | null {
  const compact = text.replace(/\s/g, "").replace(/[.,]$/, "");
  const decimal = /[.,](\d{1,2})$/.exec(compact);
  const whole = (decimal ? compact.slice(0, decimal.index) : compact).replace(/[.,]/g, "");
  const amount = Number(decimal ? `${whole}.${decimal[1]}` : whole);
  return Number.isFinite(amount) ? amount : null;
}

/** "90 minutes", "1.5 hours", "2h 30m", "45" -> minutes. Days and weeks are not a session length: null. */
function parseDurationMinutes(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? Math.round(value) : null;
  if (typeof value !== "string") return null;
  // ISO 8601 ("PT1H30M"), read by Luxon.
  if (/^\s*P/i.test(value)) {
    const iso = Duration.fromISO(value.trim().toUpperCase());
    return iso.isValid ? Math.round(iso.as("minutes")) || null : null;
  }
  // The first expression only: "90 min (1.5 hours)" is 90 minutes said twice.
  const text = value.toLowerCase().split(/[([;,/]|\bor\b/)[0];
  if (/\b(day|week|month|year)s?\b/.test(text)) return null;
  const hours = /(\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\b/.exec(text);
  const minutes = /(\d+)[\s-]*(?:m|mins?|minutes?)\b/.exec(text) ?? (hours ? /h\w*\s*(\d+)\s*$/.exec(text) : null);
  if (!hours && !minutes) {
    const plain = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
    return plain ? Math.round(Number(plain[1])) || null : null;
  }
  return Math.round(Number(hours?.[1] ?? 0) * 60 + Number(minutes?.[1] ?? 0)) || null;
}

function parseUrl(value: unknown): string | null {
  if (typeof value !== "string" || value.trim() === "") return null;
  // A Markdown link "[Book](https://…)" or "<https://…>": the address inside.
  const text = (/https?:\/\/[^\s<>()[\]"']+/i.exec(value)?.[0] ?? value.trim()).replace(/[.,;:!?]+$/, "");
  const candidate = /^[a-z][a-z\d+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  try {
    const url = new URL(candidate);
    // Only web links go into messages: any other scheme is dropped, not repaired.
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname.includes(".") ? candidate : null;
  } catch {
    return null;
  }
}

function normaliseObjections(value: unknown, repairs: string[]): unknown {
  if (typeof value === "string") {
    // A Markdown list: "- Too expensive: it pays for itself\n- No time: 90 minutes a week".
    const lines = value
      .split("\n")
      .map((line) => line.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, "").trim())
      .filter(Boolean);
    const pairs = lines.map((line) => toObjection(line));
    if (pairs.length > 0 && pairs.every(Boolean)) {
      repairs.push("read objectionHandling from a list in text");
      return pairs;
    }
    return value;
  }
  if (isObject(value)) {
    const single = toObjection(value);
    if (single) return [single];
    repairs.push("turned objectionHandling from an object map into a list");
    return Object.entries(value).map(([objection, response]) => ({ objection, response: toText(response) }));
  }
  if (!Array.isArray(value)) return value;
  return value.map((item) => {
    const pair = toObjection(item);
    if (pair && (!isObject(item) || !("objection" in item && "response" in item))) {
      repairs.push("read an objection given in another shape");
    }
    return pair ?? item;
  });
}

/** One objection from { objection, response } under other names, a [objection, response] pair, or "Q: ... A: ...". */
function toObjection(item: unknown): { objection: string | undefined; response: string | undefined } | null {
  if (Array.isArray(item) && item.length === 2) return { objection: toText(item[0]), response: toText(item[1]) };
  if (typeof item === "string") {
    // "**Objection:** ... **Response:** ..." reads as "Objection: ... Response: ...".
    const text = plainText(item);
    const qa = /^\s*(?:objection|q(?:uestion)?)\s*:\s*([\s\S]+?)\s*(?:response|a(?:nswer)?)\s*:\s*([\s\S]+)$/i.exec(
      text,
    );
    const arrow = /^([\s\S]+?)\s*(?:->|→|=>)\s*([\s\S]+)$/.exec(text);
    const colon = /^([^:]{3,120}?)\s*(?::|—|–| - )\s+([\s\S]{3,})$/.exec(text);
    const match = qa ?? arrow ?? colon;
    return match ? { objection: match[1].trim(), response: match[2].trim() } : null;
  }
  if (!isObject(item)) return null;
  const entries = Object.entries(item);
  const objection = entries.find(([key]) => OBJECTION_KEYS.has(keyOf(key)));
  const response = entries.find(([key]) => RESPONSE_KEYS.has(keyOf(key)));
  if (objection && response) return { objection: toText(objection[1]), response: toText(response[1]) };
  if (entries.length === 1 && !objection && !response)
    return { objection: entries[0][0], response: toText(entries[0][1]) };
  return null;
}
