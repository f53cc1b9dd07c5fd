import { describe, expect, it } from "vitest";
import { type ProfileCheck, repairProfileAnswer } from "../src/onboarding/profile-repair.js";
import type { ProfileContent } from "../src/profiles/profile-content.js";

// A corpus of answers in the shapes models really give, each with what the repaired profile must
// hold, or why it cannot be repaired (the onboarding then asks the model once more).

const valid: ProfileContent = {
  summary: "Ana Silva teaches Portuguese to expats in Lisbon.",
  salesPitch: "Speak with your neighbours by summer.",
  targetAudience: "English-speaking expats who just moved to Portugal.",
  valuePropositions: ["Lessons built around daily life", "Small groups of four"],
  services: [
    {
      name: "Group Course",
      description: "Ten weekly lessons.",
      price: 240,
      currency: "EUR",
      url: "https://ana.example/course",
      durationMinutes: 90,
      pitch: "Ten weeks to your first real conversation.",
    },
  ],
  agentInstructions: "Friendly, short messages; never pressure.",
  objectionHandling: [{ objection: "I have no time.", response: "Lessons are 90 minutes, once a week." }],
};

const json = (value: unknown) => JSON.stringify(value, null, 2);
const withFields = (fields: Record<string, unknown>) => json({ ...valid, ...fields });
/** A model's repetition loop: `start`, then `unit` again and again up to 199,000 characters, under the 200,000 cap. */
const loop = (start: string, unit: string) => start + unit.repeat(Math.floor((199_000 - start.length) / unit.length));
const { services: _services, ...withoutServices } = valid;

type Case = {
  name: string;
  answer: string | null;
  /** The model's finish_reason, when the row is about it. */
  finishReason?: string;
  /** What must hold of the repaired profile. */
  expected?: Partial<ProfileContent>;
  /** For an answer that cannot be repaired: paths (or messages) the issues must name. */
  unrepairable?: string[];
};

const corpus: Case[] = [
  {
    name: "valid JSON is taken as is",
    answer: json(valid),
    expected: valid,
  },
  {
    name: "JSON in a ```json code fence",
    answer: `\`\`\`json\n${json(valid)}\n\`\`\``,
    expected: valid,
  },
  {
    name: "prose before and after the JSON",
    answer: `Sure! Here is the profile:\n\n${json(valid)}\n\nLet me know if you want changes.`,
    expected: valid,
  },
  {
    name: "trailing commas in objects and arrays",
    answer: json(valid)
      .replace(/"\n(\s*)([}\]])/g, '",\n$1$2')
      .replace(/\]\n(\s*)}/g, "],\n$1}"),
    expected: valid,
  },
  {
    name: "control characters and raw line breaks inside strings",
    answer: `{"summary": "Ana Silva\u0000 teaches Portuguese\u000b to expats.\nIn Lisbon.", ${json(valid)
      .slice(1)
      .replace(/"summary": "[^"]*",/, "")}`,
    expected: { summary: "Ana Silva teaches Portuguese to expats.\nIn Lisbon." },
  },
  {
    name: "the seed's snake_case field names",
    answer: json({
      llm_summary: valid.summary,
      sales_pitch: valid.salesPitch,
      target_audience_description: valid.targetAudience,
      value_propositions: valid.valuePropositions,
      services: valid.services,
      agent_instructions: valid.agentInstructions,
      objection_handling: valid.objectionHandling,
    }),
    expected: valid,
  },
  {
    name: "paragraphs given as arrays where text is expected",
    answer: withFields({
      summary: ["Ana Silva teaches Portuguese.", "She lives in Lisbon."],
      agentInstructions: ["Be friendly.", "Never pressure."],
    }),
    expected: {
      summary: "Ana Silva teaches Portuguese.\n\nShe lives in Lisbon.",
      agentInstructions: "Be friendly.\n\nNever pressure.",
    },
  },
  {
    name: "value propositions as one bulleted string",
    answer: withFields({
      valuePropositions: "• Lessons built around daily life\n• Small groups of four\n3. Native teacher",
    }),
    expected: { valuePropositions: ["Lessons built around daily life", "Small groups of four", "Native teacher"] },
  },
  {
    name: "value propositions as objects with a title and a description",
    answer: withFields({
      valuePropositions: [{ title: "Daily life", description: "Lessons about the market and the bus" }],
    }),
    expected: { valuePropositions: ["Daily life: Lessons about the market and the bus"] },
  },
  {
    name: "objection handling as an objection -> response object map",
    answer: withFields({
      objectionHandling: { "I have no time.": "90 minutes a week.", "Too expensive.": "€24 a lesson." },
    }),
    expected: {
      objectionHandling: [
        { objection: "I have no time.", response: "90 minutes a week." },
        { objection: "Too expensive.", response: "€24 a lesson." },
      ],
    },
  },
  {
    name: "objection handling with question/answer keys and [objection, response] pairs",
    answer: withFields({
      objectionHandling: [
        { question: "Is it for beginners?", answer: "Yes, from zero." },
        ["Online?", "In person only."],
      ],
    }),
    expected: {
      objectionHandling: [
        { objection: "Is it for beginners?", response: "Yes, from zero." },
        { objection: "Online?", response: "In person only." },
      ],
    },
  },
  {
    name: "prices as text with symbols and thousands separators, durations as text",
    answer: withFields({
      services: [
        { name: "Immersion Week", price: "€1.250,50", duration: "2h 30m" },
        { name: "Private Lesson", cost: "$1,200", durationMinutes: "1.5 hours" },
        { name: "Trial Lesson", price: "Free", duration: "45-minute session" },
        { name: "Bundle", price: "USD 300/month", length: "90 min" },
        { name: "Intensive", price: "₹4,999", currency: "rupees", duration: "6 weeks" },
      ],
    }),
    expected: {
      services: [
        {
          name: "Immersion Week",
          description: "",
          price: 1250.5,
          currency: "EUR",
          url: null,
          durationMinutes: 150,
          pitch: "",
        },
        {
          name: "Private Lesson",
          description: "",
          price: 1200,
          currency: "USD",
          url: null,
          durationMinutes: 90,
          pitch: "",
        },
        { name: "Trial Lesson", description: "", price: 0, currency: null, url: null, durationMinutes: 45, pitch: "" },
        { name: "Bundle", description: "", price: 300, currency: "USD", url: null, durationMinutes: 90, pitch: "" },
        {
          name: "Intensive",
          description: "",
          price: 4999,
          currency: "INR",
          url: null,
          durationMinutes: 6 * 7 * 24 * 60,
          pitch: "",
        },
      ],
    },
  },
  {
    name: "services as an object map keyed by name, lower-case currency, URL without a scheme",
    answer: withFields({
      services: {
        "Group Course": { price: 240, currency: "eur", link: "ana.example/course" },
        Conversation: "Practice sessions at a café.",
      },
    }),
    expected: {
      services: [
        {
          name: "Group Course",
          description: "",
          price: 240,
          currency: "EUR",
          url: "https://ana.example/course",
          durationMinutes: null,
          pitch: "",
        },
        {
          name: "Conversation",
          description: "Practice sessions at a café.",
          price: null,
          currency: null,
          url: null,
          durationMinutes: null,
          pitch: "",
        },
      ],
    },
  },
  {
    name: "Python literals, single quotes and bare keys",
    answer: `{summary: 'Ana Silva teaches Portuguese.', 'salesPitch': 'Speak by summer.', targetAudience: "Expats", valuePropositions: ['Small groups'], services: [{'name': 'Course', 'price': None, 'url': None}], agentInstructions: 'Be kind.', objectionHandling: [], extra: True}`,
    expected: {
      summary: "Ana Silva teaches Portuguese.",
      salesPitch: "Speak by summer.",
      services: [
        { name: "Course", description: "", price: null, currency: null, url: null, durationMinutes: null, pitch: "" },
      ],
    },
  },
  {
    name: "JavaScript comments and a missing comma between properties",
    answer: json(valid)
      .replace('"summary":', '// the summary\n  "summary":')
      .replace(/("salesPitch": "[^"]*"),/, "$1 /* pitch */"),
    expected: valid,
  },
  {
    name: "the profile wrapped in a { profile: ... } object",
    answer: json({ profile: valid }),
    expected: valid,
  },
  {
    name: "the profile wrapped in a one-element array",
    answer: json([valid]),
    expected: valid,
  },
  {
    name: "a double-encoded answer (a JSON string holding the JSON)",
    answer: JSON.stringify(JSON.stringify(valid)),
    expected: valid,
  },
  {
    name: "more than 20 value propositions: the first 20 are kept",
    answer: withFields({ valuePropositions: Array.from({ length: 25 }, (_, i) => `Reason ${i + 1}`) }),
    expected: { valuePropositions: Array.from({ length: 20 }, (_, i) => `Reason ${i + 1}`) },
  },
  {
    name: "an answer cut off at the token limit is closed, and reports the fields it lost",
    answer: json(valid).slice(0, json(valid).indexOf('"agentInstructions"') + 30),
    unrepairable: ["objectionHandling"],
  },
  {
    name: "a draft in one fence, then the corrected version in a second: the correction is taken",
    answer: `Here is a draft:\n\`\`\`json\n${withFields({ salesPitch: "DRAFT pitch" })}\n\`\`\`\nWait, here is the corrected version:\n\`\`\`json\n${json(valid)}\n\`\`\``,
    expected: valid,
  },
  ...(
    [
      [
        "service keys in Spanish",
        { nombre: "Group Course", precio: 240, moneda: "EUR", duración: "90 min" },
        { price: 240, currency: "EUR", durationMinutes: 90 },
      ],
      ["price_usd", { name: "Group Course", price_usd: 240 }, { price: 240, currency: "USD" }],
      ["priceCurrency", { name: "Group Course", price: 240, priceCurrency: "EUR" }, { price: 240, currency: "EUR" }],
      [
        "a free trial, then a monthly price",
        { name: "Group Course", price: "Free trial, then $29/month" },
        { price: 29, currency: "USD" },
      ],
      ["$1.5k", { name: "Group Course", price: "$1.5k" }, { price: 1500, currency: "USD" }],
      ["was and now", { name: "Group Course", price: "Was €300, now €240" }, { price: 240, currency: "EUR" }],
      ["currency Rs.", { name: "Group Course", price: 4999, currency: "Rs." }, { price: 4999, currency: "INR" }],
      [
        "a duration said twice",
        { name: "Group Course", durationMinutes: "90 min (1.5 hours)" },
        { durationMinutes: 90 },
      ],
      ["an ISO 8601 duration", { name: "Group Course", duration: "PT1H30M" }, { durationMinutes: 90 }],
      [
        "a Markdown link",
        { name: "Group Course", url: "[Book here](https://ana.example/course)" },
        { url: "https://ana.example/course" },
      ],
      [
        "a URL in angle brackets",
        { name: "Group Course", url: "<https://ana.example/course>" },
        { url: "https://ana.example/course" },
      ],
      ["0x4B0 (no decimal amount, and not free)", { name: "Group Course", price: "0x4B0" }, { price: null }],
      ["a negative price", { name: "Group Course", price: "-50" }, { price: null }],
      ["1_200", { name: "Group Course", price: "1_200" }, { price: 1200 }],
      ["CHF 1'200.–", { name: "Group Course", price: "CHF 1'200.–" }, { price: 1200, currency: "CHF" }],
      ["R$ 1.200,00", { name: "Group Course", price: "R$ 1.200,00" }, { price: 1200, currency: "BRL" }],
      [
        "currency Canadian dollars",
        { name: "Group Course", price: 300, currency: "Canadian dollars" },
        { currency: "CAD" },
      ],
      ["currency yen", { name: "Group Course", price: 5000, currency: "yen" }, { currency: "JPY" }],
      ["currency XYZ, no ISO 4217 code", { name: "Group Course", price: 300, currency: "XYZ" }, { currency: null }],
      ["1h30", { name: "Group Course", duration: "1h30" }, { durationMinutes: 90 }],
      ["1:30", { name: "Group Course", duration: "1:30" }, { durationMinutes: 90 }],
      ["an hour", { name: "Group Course", duration: "an hour" }, { durationMinutes: 60 }],
      ["12 weeks, as P12W", { name: "Group Course", duration: "12 weeks" }, { durationMinutes: 12 * 7 * 24 * 60 }],
      ["a mailto: link is no web page", { name: "Group Course", url: "mailto:maya@maya.example" }, { url: null }],
      [
        "a URL with a user and password",
        { name: "Group Course", url: "https://user:pass@evil.example" },
        { url: null },
      ],
      [
        "a URL with balanced parentheses",
        { name: "Group Course", url: "https://ana.example/course_(advanced)" },
        { url: "https://ana.example/course_(advanced)" },
      ],
    ] as const
  ).map(
    ([kind, service, expected]): Case => ({
      name: `a service's value as models write it: ${kind}`,
      answer: withFields({ services: [service] }),
      expected: { services: [expect.objectContaining(expected)] } as unknown as Partial<ProfileContent>,
    }),
  ),
  {
    name: "JSON5's +90 is read as 90, not a failed parse",
    answer: json(valid).replace('"price": 240', '"price": +90'),
    expected: { services: [{ ...valid.services[0], price: 90 }] },
  },
  {
    name: "a Markdown link in copy keeps its address",
    answer: withFields({ salesPitch: "Book [your first lesson](https://ana.example/course) today." }),
    expected: { salesPitch: "Book https://ana.example/course today." },
  },
  {
    name: "a run of blank lines in copy is one blank line",
    answer: withFields({ summary: `Ana Silva.${"\n".repeat(19_000)}Lisbon.` }),
    expected: { summary: "Ana Silva.\n\nLisbon." },
  },
  {
    name: "an answer stopped by the content filter, which jsonrepair would close, is refused naming the reason",
    answer: (() => {
      const cut = json({ ...withoutServices, services: [valid.services[0], { name: "1:1 Coaching", price: 30 }] });
      return cut.slice(0, cut.indexOf('"price": 30') + '"price": 30'.length);
    })(),
    finishReason: "content_filter",
    unrepairable: ["the answer stopped before its end (finish_reason content_filter)"],
  },
  {
    name: "a full fenced answer, then a small fenced example: the answer is taken",
    answer: `\`\`\`json\n${json(valid)}\n\`\`\`\nFor a service without a price, write:\n\`\`\`json\n{"price": null}\n\`\`\``,
    expected: valid,
  },
  {
    name: "DeepSeek-R1's reasoning with only its closing tag, and a longer draft in it",
    answer: `Let me draft it: ${withFields({ salesPitch: "DRAFT ".repeat(400) })}\nToo long.</think>\n${json(valid)}`,
    expected: valid,
  },
  {
    name: "a string holding <analysis> with no closing tag does not wipe the rest of the answer",
    answer: withFields({ agentInstructions: "Keep your <analysis> notes private." }),
    expected: { ...valid, agentInstructions: "Keep your notes private." },
  },
  {
    name: "the profile in envelopes four levels deep",
    answer: json({ result: { data: { output: { profile: valid } } } }),
    expected: valid,
  },
  ...(
    [
      ["1 1 1", loop('{"a":[', "1 ")],
      ["{}{}", loop('{"a":[', "{}")],
      ["a:'b' a:'b'", loop("{", "a:'b' ")],
      ['" a: " a:', loop('{"a":[', '" a: ')],
      ['"a:"a:', loop("{", '"a:')],
      ["a:1 a:1", loop("{", "a:1 ")],
      ["‘a, ‘a,", loop('{"a":[', "‘a, ")],
    ] as const
  ).map(
    ([shape, answer]): Case => ({
      name: `a repetition loop of ${shape} up to 199,000 characters is refused, not read for seconds`,
      answer,
      unrepairable: ["the answer is not strict JSON"],
    }),
  ),
  ...["`", "~", "[", "<", "![", "[^", "<br>"].map(
    (unit): Case => ({
      name: `a 190,000-character summary of ${unit} is refused as too long, not stripped for seconds`,
      answer: withFields({ summary: unit.repeat(Math.floor(190_000 / unit.length)) }),
      unrepairable: ["summary", "<=20000"],
    }),
  ),
  {
    name: "a reasoning block holding a draft object before the answer",
    answer: `<think>First a draft: ${withFields({ salesPitch: "DRAFT pitch" })} then check it.</think>\n${json(valid)}`,
    expected: valid,
  },
  {
    name: "a lead-in naming fields in braces before the JSON",
    answer: `I filled in {salesPitch} and {summary} from the raw data:\n${json(valid)}`,
    expected: valid,
  },
  {
    name: "typographic quotes as delimiters",
    answer: json(valid).replace(/"/g, (_m, offset: number, all: string) => (all[offset - 1] === "\\" ? '"' : "“")),
    expected: { salesPitch: valid.salesPitch },
  },
  {
    name: "services: null is no services",
    answer: withFields({ services: null }),
    expected: { services: [] },
  },
  {
    name: "services grouped under category names: the services, not the categories",
    answer: withFields({
      services: { Courses: [valid.services[0]], Coaching: [{ ...valid.services[0], name: "Private Lesson" }] },
    }),
    expected: {
      services: [
        expect.objectContaining({ name: "Group Course" }),
        expect.objectContaining({ name: "Private Lesson" }),
      ],
    } as unknown as Partial<ProfileContent>,
  },
  {
    name: "objections as a Markdown list in one string",
    answer: withFields({
      objectionHandling:
        "- I have no time: Lessons are 90 minutes, once a week.\n- Too expensive: Ten lessons for 240 EUR.",
    }),
    expected: {
      objectionHandling: [
        { objection: "I have no time", response: "Lessons are 90 minutes, once a week." },
        { objection: "Too expensive", response: "Ten lessons for 240 EUR." },
      ],
    },
  },
  {
    name: "objections as '**Objection:** ... **Response:** ...' strings",
    answer: withFields({
      objectionHandling: ["**Objection:** I have no time. **Response:** Lessons are 90 minutes, once a week."],
    }),
    expected: {
      objectionHandling: [{ objection: "I have no time.", response: "Lessons are 90 minutes, once a week." }],
    },
  },
  {
    name: "two bare objects, a draft then the final: the final is taken",
    answer: `${withFields({ salesPitch: "DRAFT pitch" })}\n\nActually, this is better:\n${json(valid)}`,
    expected: valid,
  },
  {
    name: "the profile as a JSON string under response",
    answer: json({ response: JSON.stringify(valid) }),
    expected: valid,
  },
  {
    name: "the profile under data.profile",
    answer: json({ data: { profile: valid } }),
    expected: valid,
  },
  {
    name: "HTML entities, <br> and Markdown in copy sent word for word are turned into plain text",
    answer: withFields({
      salesPitch: "**Speak** with your neighbours &amp; friends by summer.<br>It&#39;s that simple.",
      valuePropositions: ["Lessons built around&nbsp;daily life", "_Small_ groups of four"],
    }),
    expected: {
      salesPitch: "Speak with your neighbours & friends by summer.\nIt's that simple.",
      valuePropositions: ["Lessons built around daily life", "Small groups of four"],
    },
  },
  {
    name: "-Infinity as a price is no price; the rest of the profile is kept",
    answer: json(valid).replace('"price": 240', '"price": -Infinity'),
    expected: { ...valid, services: [{ ...valid.services[0], price: null }] },
  },
  {
    name: "a bare price with a thousands separator (14,999) is one number",
    answer: json(valid).replace('"price": 240', '"price": 14,999'),
    expected: { services: [{ ...valid.services[0], price: 14_999 }] },
  },
  {
    name: "#, // and /* */ comments inside the JSON",
    answer: json(valid)
      .replace("{\n", "{\n  # Ana's profile, as asked\n")
      .replace('"salesPitch":', '// the pitch\n  "salesPitch":')
      .replace('"price": 240,', '"price": 240, /* in euros */')
      .replace('"currency": "EUR",', '"currency": "EUR", # ISO 4217'),
    expected: valid,
  },
  {
    name: "unescaped quotes inside a string",
    answer: json(valid).replace(`"${valid.salesPitch}"`, '"The "best" course for you"'),
    expected: { ...valid, salesPitch: 'The "best" course for you' },
  },
  {
    name: "one closing brace too many at the end",
    answer: `${json(valid)}}`,
    expected: valid,
  },
  {
    name: "a repetition loop of 60,000 '[' is refused, without overflowing the stack",
    answer: `${json(valid).slice(0, -1)}, "extra": ${"[".repeat(60_000)}`,
    unrepairable: ["nested more than 32 levels deep"],
  },
  {
    name: "a description nested 5,000 levels deep is refused, without overflowing the stack",
    answer: withFields({ summary: "x" }).replace('"x"', `${'{"more": '.repeat(5_000)}"deep"${"}".repeat(5_000)}`),
    unrepairable: ["nested more than 32 levels deep"],
  },
  {
    name: "45,000 '[' hidden from the bracket count by an unescaped quote are refused, without overflowing the stack",
    answer: `${json(valid).slice(0, -1)}, "note": "x" y", "extra": ${"[".repeat(45_000)}}`,
    unrepairable: ["nested more than 32 levels deep"],
  },
  {
    name: "100 levels hidden from the bracket count by an unescaped quote are refused once read",
    answer: `${json(valid).slice(0, -1)}, "note": "x" y", "extra": ${"[".repeat(100)}${"]".repeat(100)}}`,
    unrepairable: ["nested more than 32 levels deep"],
  },
  {
    name: "a repetition loop of quotes that never close is refused at once, not read for minutes",
    answer: `{"summary": ${'"a '.repeat(15_000)}}`,
    unrepairable: ["quotes out of place"],
  },
  {
    name: "the same loop in single quotes is refused too",
    answer: `{'summary': ${"'a ".repeat(15_000)}}`,
    unrepairable: ["quotes out of place"],
  },
  {
    name: "a JSON5 answer in single quotes throughout, with apostrophes in its text, is read",
    answer: `{${Object.entries({ ...valid, salesPitch: "Speak with your neighbours by summer: it's easy." })
      .map(
        ([k, v]) =>
          `'${k}': ${JSON.stringify(v).replace(/^"(.*)"$/, (_m, t: string) => `'${t.replace(/'/g, "\\'")}'`)}`,
      )
      .join(", ")}}`,
    expected: { salesPitch: "Speak with your neighbours by summer: it's easy." },
  },
  {
    name: "an answer longer than any profile is refused",
    answer: withFields({ summary: "word ".repeat(50_000) }),
    unrepairable: ["characters long"],
  },
  {
    name: "required fields missing",
    answer: json({ summary: valid.summary, services: [] }),
    unrepairable: ["salesPitch", "targetAudience", "valuePropositions", "agentInstructions", "objectionHandling"],
  },
  {
    name: "a refusal in prose",
    answer: "I'm sorry, but I can't help with that request.",
    unrepairable: ["the answer is not JSON"],
  },
  {
    name: "an empty answer",
    answer: null,
    unrepairable: ["the answer is empty"],
  },
  {
    name: "an objection without a response",
    answer: withFields({ objectionHandling: [{ objection: "Too expensive." }] }),
    unrepairable: ["objectionHandling.0.response"],
  },
];

function describeCheck(check: ProfileCheck): string {
  return check.ok ? "ok" : JSON.stringify(check.issues);
}

describe("profile repair corpus", () => {
  it("has at least 15 malformed answers", () => {
    expect(corpus.filter((c) => c.name !== "valid JSON is taken as is").length).toBeGreaterThanOrEqual(15);
  });

  it.each(corpus.filter((c) => c.expected))("repairs $name", ({ answer, finishReason, expected }) => {
    const check = repairProfileAnswer(answer, { finishReason });
    if (!check.ok) throw new Error(`not repaired: ${describeCheck(check)}`);
    expect(check.profile).toMatchObject(expected!);
  });

  it.each(corpus.filter((c) => c.unrepairable))("reports $name", ({ answer, finishReason, unrepairable }) => {
    const check = repairProfileAnswer(answer, { finishReason });
    if (check.ok) throw new Error(`unexpectedly valid: ${JSON.stringify(check.profile)}`);
    const reported = check.issues.map((issue) => `${issue.path} ${issue.message}`).join("\n");
    for (const expected of unrepairable!) expect(reported).toContain(expected);
  });

  it("names each repair it made, once", () => {
    const check = repairProfileAnswer(
      `\`\`\`json\n${json({
        ...valid,
        services: [
          { name: "A", price: "$10" },
          { name: "B", price: "$20" },
        ],
      }).replace(/}\n(\s*)]/, "},\n$1]")}\n\`\`\``,
    );
    expect(check.ok).toBe(true);
    expect(check.repairs).toEqual([
      "removed a Markdown code fence",
      "removed trailing commas",
      'read price "$10" as 10',
      'read currency "$10" as USD',
      'read price "$20" as 20',
      'read currency "$20" as USD',
    ]);
  });

  it("leaves text inside strings untouched while repairing around it", () => {
    const tricky = "Use commas, like this: a, b, ] and // not a comment, # nor this, and 'quotes'. Price: 14,999.";
    const check = repairProfileAnswer(withFields({ agentInstructions: tricky }).replace(/}\s*$/, ",}"));
    if (!check.ok) throw new Error(describeCheck(check));
    expect(check.profile.agentInstructions).toBe(tricky);
  });
});
