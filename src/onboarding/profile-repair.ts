import { decodeHTML } from "entities";
import { jsonrepair } from "jsonrepair";
import { Duration } from "luxon";
import removeMarkdown from "remove-markdown";
import { z } from "zod";
import type { FieldIssue } from "../errors.js";
import {
  objectionSchema,
  type ProfileContent,
  profileContentSchema,
  serviceSchema,
} from "../profiles/profile-content.js";
import { CURRENCY_CODES } from "../validation.js";

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
 * throws: an answer the model did not finish (finish_reason other than "stop"), longer than
 * MAX_ANSWER_CHARS, nested deeper than MAX_DEPTH, unreadable as JSON or not a valid profile once
 * repaired comes back as `ok: false` with issues (path "" for the whole answer) to give the model
 * back. `repairs` names, once each, what was changed to read it. Prices in the profile are amounts
 * in the currency's main unit (240.5 EUR is 240.5).
 */
export function repairProfileAnswer(
  answer: string | null | undefined,
  /**
   * The model's finish_reason. Only "stop" ends a whole answer: after "length", "content_filter"
   * or any other, whatever parses is a part of it, which jsonrepair would close without a word.
   * Left out for a text known to be whole.
   */
  options: { finishReason?: string } = {},
): ProfileCheck {
  const repairs: string[] = [];
  const { finishReason = "stop" } = options;
  if (finishReason !== "stop") return { ok: false, issues: [{ path: "", message: unfinished(finishReason) }], repairs };
  const bounded = outOfBounds(answer ?? "");
  if (bounded) return { ok: false, issues: [{ path: "", message: bounded }], repairs };
  const parsed = parseLenientJson(answer ?? "", repairs);
  if (!parsed.ok) return { ok: false, issues: [{ path: "", message: parsed.error }], repairs };
  return checkProfile(parsed.value, repairs);
}

function unfinished(finishReason: string): string {
  const stopped =
    finishReason === "length" ? "the answer was cut off at the token limit" : "the answer stopped before its end";
  return `${stopped} (finish_reason ${finishReason}): an unfinished answer is never taken`;
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
 * The longest JSON text read leniently; strict JSON is read up to MAX_ANSWER_CHARS. jsonrepair's
 * time on some broken shapes grows sharply past ~80,000 characters (measured with jsonrepair
 * 3.15.0, Node 20: `{"a":[1 1 1 …`, `{"a":[{}{}…`, `{a:'b' a:'b' …`, `{a:1 a:1 …`, `{"a:"a:…`,
 * `{"a":[" a: …`, `{"a":[‘a, ‘a, …` take 0.03–0.07 s at 50,000 characters, 0.2–0.5 s at
 * 90,000 and 3–8 s at 199,000), while a real answer is 3–20 KB.
 */
const MAX_LENIENT_CHARS = 50_000;

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
  const thought = withoutReasoning(text).trim();
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
  // is the corrected version"), the last plausible one holding an object is the answer: a small
  // example after it (```json {"price": null}```) is not.
  const fences = plausible(
    [...text.matchAll(/(?:^|\n)```[a-zA-Z]*[^\S\n]*\n?([\s\S]*?)(?:```|$)/g)].filter((f) => f[1].includes("{")),
    (f) => f[1].length,
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
  // Braces in the prose around it ("fill in {salesPitch}") are no answer.
  const all = inArray ? [] : topLevelObjects(text);
  const objects = plausible(all, (o) => o.end - o.start);
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
 * Of several candidates for the answer, those that can be it: at least half as long as the
 * longest (a draft and its correction are; an example or a `{field}` in the prose is not).
 */
function plausible<T>(candidates: T[], length: (candidate: T) => number): T[] {
  const longest = Math.max(0, ...candidates.map(length));
  return candidates.filter((c) => length(c) >= longest / 2);
}

const REASONING_TAG = /<(\/?)(think|thinking|reasoning|analysis)>/gi;

/**
 * The text without a reasoning model's thinking: each well-formed block (`<think>…</think>`), and
 * everything up to the last closing tag left without its opening, as DeepSeek-R1 writes when the
 * prompt opened the block. An opening tag with no closing one after it is text ("show no
 * <analysis>"), kept. One pass over the tags, so that many unclosed ones cost no more than one.
 */
function withoutReasoning(text: string): string {
  const lower = text.toLowerCase();
  const neverClosed = new Set<string>();
  let kept = "";
  let from = 0;
  for (const tag of text.matchAll(REASONING_TAG)) {
    const [whole, slash, name] = [tag[0], tag[1], tag[2].toLowerCase()];
    if (tag.index < from || neverClosed.has(name)) continue;
    if (slash) {
      kept = "";
      from = tag.index + whole.length;
      continue;
    }
    const close = lower.indexOf(`</${name}>`, tag.index + whole.length);
    if (close === -1) {
      neverClosed.add(name);
      continue;
    }
    kept += text.slice(from, tag.index);
    from = close + name.length + 3;
  }
  return kept + text.slice(from);
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
  if (json.length > MAX_LENIENT_CHARS) {
    return {
      ok: false,
      error: `the answer is not strict JSON and is ${json.length} characters long: only up to ${MAX_LENIENT_CHARS} are repaired`,
    };
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
    // JSON5's plus sign before a number, which jsonrepair cannot read.
    String.raw`(?<=[:,[]\s*)(?<plus>\+)(?=\.?\d|Infinity)`,
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
 *   common slip;
 * - JSON5's `+90` is read as 90: jsonrepair fails on it, and with it the whole answer.
 * Text inside strings is never changed.
 */
function repairOutsideStrings(json: string, repairs: string[]): string {
  return json.replace(OUTSIDE_STRINGS, (match: string, ...rest: unknown[]) => {
    const { string, comment, colon, number, comma, plus } = rest.at(-1) as Record<string, string | undefined>;
    if (string !== undefined) return match;
    if (comment !== undefined) repairs.push("removed comments");
    if (comma !== undefined) repairs.push("removed trailing commas");
    if (plus !== undefined) repairs.push("removed plus signs before numbers");
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

/** Objects wrapped around the profile that are taken off; each level is one pass over its keys. */
const MAX_ENVELOPES = 6;

function normaliseProfile(value: unknown, repairs: string[]): unknown {
  let root = value;
  if (Array.isArray(root) && root.length === 1 && isObject(root[0])) {
    repairs.push("unwrapped a one-element array");
    root = root[0];
  }
  // Envelopes: { profile: {...} }, { data: { profile: {...} } }, { response: "<the JSON as a string>" }.
  for (let level = 0; level < MAX_ENVELOPES && isObject(root) && !looksLikeProfile(root); level++) {
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
  for (const field of Object.keys(PROFILE_TEXT)) {
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
 * `entities` library), `<br>` as a line break, Markdown and other tags removed (`remove-markdown`),
 * a link as its address ("[Book](https://…)" is "https://…"). The profile's copy is sent word for
 * word, so "**Sprint** &amp; more" must not reach a consumer. remove-markdown reads "2*3*4" as
 * emphasis ("234"), which is left to it. Its time grows with the square of the text's length:
 * callers pass texts within a field's limit (see textLimits).
 */
export function plainText(text: string): string {
  // Spaces and blank lines are collapsed first too: remove-markdown's line patterns (headings,
  // list leaders) rescan a run of blank lines from each of its lines.
  const decoded = collapseSpaces(decodeHTML(text.replace(/<br\s*\/?>/gi, "\n")));
  return collapseSpaces(
    removeMarkdown(decoded, { gfm: true, useImgAltText: true, stripListLeaders: true, replaceLinksWithURL: true }),
  );
}

/** Runs of spaces (a no-break space too) as one, no space around a line break, at most one blank line. */
function collapseSpaces(text: string): string {
  return text
    .replace(/[^\S\n]+/g, " ")
    .replace(/ ?\n ?/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/**
 * The longest text each string field of an object schema holds (its `max`). Markdown is stripped
 * only from a text within it; a longer one is refused by validation as it is. remove-markdown's
 * time grows with the square of a text's length (measured with remove-markdown 0.7.0, Node 20:
 * one 190,000-character field of backticks takes 20 s, of `~`, `[` or `<` 13–15 s; at 20,000,
 * the largest limit, backticks take 0.22–0.27 s, the others 0.17 s or less; a 195,000-character
 * answer with every text field at its limit, all backticks, 1.2 s).
 */
function textLimits(schema: z.ZodObject): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const [field, type] of Object.entries(schema.shape)) {
    const inner = type instanceof z.ZodDefault ? type.unwrap() : type;
    if (inner instanceof z.ZodString && inner.maxLength !== null) limits[field] = inner.maxLength;
  }
  return limits;
}

const PROFILE_TEXT = textLimits(profileContentSchema);
const SERVICE_TEXT = textLimits(serviceSchema);
const OBJECTION_TEXT = textLimits(objectionSchema);
const VALUE_PROPOSITION_LIMIT = profileContentSchema.shape.valuePropositions.element.maxLength ?? 0;

function cleanTextFields(profile: Json, repairs: string[]): void {
  let changed = false;
  const clean = (value: unknown, limit: number): unknown => {
    if (typeof value !== "string" || value.trim().length > limit) return value;
    const plain = plainText(value);
    if (plain !== value.trim()) changed = true;
    return plain;
  };
  const cleanFields = (item: unknown, limits: Record<string, number>) => {
    if (!isObject(item)) return;
    for (const [field, limit] of Object.entries(limits)) if (field in item) item[field] = clean(item[field], limit);
  };
  cleanFields(profile, PROFILE_TEXT);
  if (Array.isArray(profile.valuePropositions)) {
    profile.valuePropositions = profile.valuePropositions.map((v) => clean(v, VALUE_PROPOSITION_LIMIT));
  }
  if (Array.isArray(profile.services)) for (const s of profile.services) cleanFields(s, SERVICE_TEXT);
  if (Array.isArray(profile.objectionHandling)) {
    for (const o of profile.objectionHandling) cleanFields(o, OBJECTION_TEXT);
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

/**
 * Currency signs from the runtime's CLDR data (Intl): each currency's English symbol ("R$" BRL,
 * "CA$" CAD, "$" USD, "£" GBP), then a narrow symbol only one currency has ("₺" TRY, "₽" RUB),
 * after the customary ones CLDR lacks. Only signs with a currency character (\p{Sc}): letter
 * symbols ("R", "kr") are words too. Longest first, so that "R$" is found before "$".
 */
const CURRENCY_SIGNS: [string, string][] = currencySigns();

function currencySigns(): [string, string][] {
  const signs = new Map([
    ["US$", "USD"],
    ["$US", "USD"],
    ["C$", "CAD"],
    ["AU$", "AUD"],
    ["S$", "SGD"],
  ]);
  const symbol = (currency: string, currencyDisplay: "symbol" | "narrowSymbol") =>
    new Intl.NumberFormat("en", { style: "currency", currency, currencyDisplay })
      .formatToParts(0)
      .find((part) => part.type === "currency")?.value ?? currency;
  for (const code of CURRENCY_CODES) {
    const sign = symbol(code, "symbol");
    if (!signs.has(sign)) signs.set(sign, code);
  }
  const narrow = soleCodes([...CURRENCY_CODES].map((code) => [symbol(code, "narrowSymbol"), code]));
  for (const [sign, code] of narrow) if (!signs.has(sign)) signs.set(sign, code);
  return [...signs].filter(([sign]) => /\p{Sc}/u.test(sign)).sort(([a], [b]) => b.length - a.length);
}

/** Words that name a currency by custom where several share them ("dollars" is USD). */
const CURRENCY_WORDS: [RegExp, string][] = [
  [/\brs\.?(?=\s|\d|$)/i, "INR"],
  [/\bdollars?\b/i, "USD"],
  [/\beuros?\b/i, "EUR"],
  [/\bpounds?\b/i, "GBP"],
  [/\brupees?\b/i, "INR"],
];

/** A name's or a text's words as compared: no accents, case, punctuation or plural "s". */
function nameWords(text: string): string[] {
  return text
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean)
    .map((word) => (word.length > 3 ? word.replace(/s$/, "") : word));
}

/**
 * English currency names from the runtime (Intl.DisplayNames), as nameWords: the whole name
 * ("canadian dollar" CAD) and a last word only one currency has ("yen" JPY, "real" BRL). Historic
 * names ("… (1964–2022)") are left out.
 */
const CURRENCY_NAMES: Map<string, string> = currencyNames();
const NAME_WORDS = Math.max(...[...CURRENCY_NAMES.keys()].map((name) => name.split(" ").length));

function currencyNames(): Map<string, string> {
  const display = new Intl.DisplayNames(["en"], { type: "currency" });
  const names = new Map<string, string>();
  const lastWords: [string, string][] = [];
  for (const code of CURRENCY_CODES) {
    const name = display.of(code);
    if (!name || name.includes("(")) continue;
    const words = nameWords(name);
    names.set(words.join(" "), code);
    lastWords.push([words[words.length - 1], code]);
  }
  for (const [word, code] of soleCodes(lastWords)) if (!names.has(word)) names.set(word, code);
  return names;
}

/** Of [key, code] pairs, the keys that name one currency only, with it. */
function soleCodes(pairs: [string, string][]): Map<string, string> {
  const codes = new Map<string, Set<string>>();
  for (const [key, code] of pairs) codes.set(key, (codes.get(key) ?? new Set()).add(code));
  return new Map([...codes].filter(([, named]) => named.size === 1).map(([key, named]) => [key, [...named][0]]));
}

/** An ISO 4217 code ("eur", "CHF"), or the currency a text names; "XYZ", no code, is null. */
function parseCurrency(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const code = value.trim().toUpperCase();
  return CURRENCY_CODES.has(code) ? code : currencyIn(value);
}

/**
 * The currency a text names, in this order: an ISO code in capitals next to the amount ("CHF
 * 1'200", "300 EUR"; "TRY it free" is no lira), a currency's name of several words ("Canadian
 * dollars"), or a text that is one word of it ("yen"), a sign ("R$"), a customary word.
 */
function currencyIn(text: string): string | null {
  const coded = [...text.matchAll(/\b([A-Z]{3}) ?(?=\d)|(?<=\d) ?([A-Z]{3})\b/g)]
    .map((m) => m[1] ?? m[2])
    .find((code) => CURRENCY_CODES.has(code));
  return (
    coded ??
    currencyNamedIn(text) ??
    CURRENCY_SIGNS.find(([sign]) => text.includes(sign))?.[1] ??
    CURRENCY_WORDS.find(([pattern]) => pattern.test(text))?.[1] ??
    null
  );
}

function currencyNamedIn(text: string): string | null {
  const words = nameWords(text);
  if (words.length === 1) return CURRENCY_NAMES.get(words[0]) ?? null;
  for (let start = 0; start < words.length; start++) {
    for (let count = Math.min(NAME_WORDS, words.length - start); count >= 2; count--) {
      const code = CURRENCY_NAMES.get(words.slice(start, start + count).join(" "));
      if (code) return code;
    }
  }
  return null;
}

/**
 * The amounts in a price text: an optional minus, an optional currency sign, digits in groups
 * (separated by ",", ".", "'", "’", "_" or a space: "1'200", "1_200", "1 200") and a scale
 * ("1.5k"). Matched greedily, with no lookaround to fail, so a long text is read in one pass.
 */
const AMOUNT = /([-−]?)(\p{Sc}\s*)?(\d+(?:[.,'’_ ]\d+)*)([km](?![\p{L}\d_]))?/giu;

/**
 * "$1,200" -> 1200 USD, "€49,99" -> 49.99 EUR, "CHF 1'200.–" -> 1200 CHF, "Free" -> 0,
 * { amount, currency }; "Contact us", a negative amount ("-50") and digits glued to letters
 * ("0x4B0", no decimal amount) -> null.
 */
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
  const glued = (m: RegExpExecArray) =>
    /[\p{L}\d_]/u.test(text[m.index + m[0].length] ?? "") ||
    (!m[1] && !m[2] && /[\p{L}\d_]/u.test(text[m.index - 1] ?? ""));
  const amounts = [...text.matchAll(AMOUNT)].filter((m) => !glued(m));
  // The amount next to a currency sign wins: "2 sessions for $300" costs 300; "Free trial, then
  // $29/month" costs 29.
  const match = amounts.find((m) => m[2]) ?? amounts[0];
  if (!match) return { amount: /^\s*free\b/i.test(value) ? 0 : null, currency };
  const amount = match[1] ? null : parseDecimal(match[3]);
  // "$1.5k" is 1,500.
  const scale = { k: 1_000, m: 1_000_000 }[match[4]?.toLowerCase() as "k" | "m"] ?? 1;
  return { amount: amount === null ? null : Math.round(amount * scale * 100) / 100, currency };
}

/** Both "1,200.50" and "1.200,50": the last separator followed by one or two digits is the decimal point. */
function parseDecimal(text: string): number | null {
  const compact = text.replace(/[\s'’_]/g, "");
  const decimal = /[.,](\d{1,2})$/.exec(compact);
  const whole = (decimal ? compact.slice(0, decimal.index) : compact).replace(/[.,]/g, "");
  const amount = Number(decimal ? `${whole}.${decimal[1]}` : whole);
  return Number.isFinite(amount) ? amount : null;
}

/** The words of each unit a duration is written in, as Luxon names the unit. */
const DURATION_UNITS: Record<string, string> = {
  minutes: "minutes?|mins?|m",
  hours: "hours?|hrs?|h",
  days: "days?|d",
  weeks: "weeks?|wks?|w",
  months: "months?|mo",
  years: "years?|yrs?|y",
};
const UNIT_GROUPS = Object.entries(DURATION_UNITS)
  .map(([unit, words]) => `(?<${unit}>${words})`)
  .join("|");
const UNIT_WORD = `(?:${Object.values(DURATION_UNITS).join("|")})(?!\\p{L})`;
/**
 * One term of a duration: an amount ("90", "1.5", "a", "an", "one", "half an"), its unit, then
 * "and a half", or bare minutes after hours ("1h30"; not "1 hour 30 minutes", two terms).
 */
const DURATION_TERM = new RegExp(
  String.raw`(?<![\p{L}\d.])(?<amount>\d+(?:\.\d+)?|(?:half an?|an?|one)(?!\p{L}))[\s-]*(?:${UNIT_GROUPS})(?!\p{L})` +
    String.raw`(?<half>\s+and\s+a\s+half)?(?:\s*(?<bare>\d{1,2})(?![\d.]|\s*${UNIT_WORD}))?`,
  "giu",
);

/**
 * Minutes from "90 minutes", "1.5 hours", "2h 30m", "1h30", "1:30", "an hour", "12 weeks", "45",
 * or ISO 8601 ("PT1H30M"); units are converted by Luxon (a week is 7 days, a month 30). Null when
 * none is read.
 */
function parseDurationMinutes(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? Math.round(value) : null;
  if (typeof value !== "string") return null;
  const text = value.trim().toLowerCase();
  if (/^pt?\d/.test(text)) return minutesOf(Duration.fromISO(text.toUpperCase()));
  const clock = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (clock) return minutesOf(Duration.fromISOTime(`${clock[1].padStart(2, "0")}:${clock[2]}`));
  // The first expression only: "90 min (1.5 hours)" is 90 minutes said twice.
  const first = text.split(/[([;,/]|\bor\b/)[0].trim();
  if (/^\d+(?:\.\d+)?$/.test(first)) return Math.round(Number(first)) || null;
  const units: Record<string, number> = {};
  for (const { groups = {} } of first.matchAll(DURATION_TERM)) {
    const { amount, half, bare, ...unit } = groups;
    const name = Object.keys(unit).find((key) => unit[key] !== undefined) ?? "minutes";
    const count = amount.startsWith("half") ? 0.5 : /^(an?|one)$/.test(amount) ? 1 : Number(amount);
    units[name] = (units[name] ?? 0) + count + (half ? 0.5 : 0);
    if (bare) units.minutes = (units.minutes ?? 0) + Number(bare);
  }
  return Object.keys(units).length > 0 ? minutesOf(Duration.fromObject(units)) : null;
}

const minutesOf = (duration: Duration) => (duration.isValid ? Math.round(duration.as("minutes")) || null : null);

/**
 * A web page's address, from a bare one ("ana.example/course"), a Markdown link or angle
 * brackets. Null for any other scheme ("mailto:", "tel:"), an address with a user or password
 * ("https://user:pass@evil.example", a phishing shape; a bare e-mail address reads as one), or a
 * host without a dot. Balanced parentheses belong to it ("…/A_(b)"), a closing one alone does not.
 */
function parseUrl(value: unknown): string | null {
  if (typeof value !== "string" || value.trim() === "") return null;
  const found = /https?:\/\/(?:[^\s<>()[\]"']|\([^\s<>()[\]"']*\))+/i.exec(value)?.[0];
  const text = (found ?? value.trim()).replace(/[.,;:!?]+$/, "");
  const web = /^https?:\/\//i.test(text);
  // "host:8080" has a port, not a scheme.
  if (!web && /^[a-z][a-z\d+.-]*:(?!\d)/i.test(text)) return null;
  const candidate = web ? text : `https://${text}`;
  try {
    const url = new URL(candidate);
    return url.hostname.includes(".") && !url.username && !url.password ? candidate : null;
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
    // Longer than an objection and its response can be together: no pair, and not stripped.
    if (item.length > OBJECTION_TEXT.objection + OBJECTION_TEXT.response) return null;
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
