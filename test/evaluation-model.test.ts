import { afterAll, beforeAll, expect, it } from "vitest";
import { answer, apiError, type Reply, startFakeOpenAI } from "./support/fake-openai.js";

// The conversation evaluation on the model path: the same histories, with understanding through
// the real `openai` SDK against our local OpenAI-protocol server. The server answers each message
// with its right reading, or with the wrong or malicious answer a history scripts (an invented
// price, a discount code, a service the creator does not sell, an API error, text that is not
// JSON). No invented fact may reach a consumer, whatever the model says.

const fake = await startFakeOpenAI();
Object.assign(process.env, { OPENAI_API_KEY: "sk-eval", OPENAI_BASE_URL: fake.url, OPENAI_MAX_RETRIES: "0" });

const { HISTORIES } = await import("../eval/histories.js");
const { replayHistory, scorecard, startDelivery } = await import("../eval/replay.js");
type Step = import("../eval/histories.js").Step;

/** The answer the scripted model gives for a step's message. */
function scripted(step: Step): Reply {
  const script = step.model;
  if (script?.kind === "error")
    return apiError(script.status, "The server had an error while processing your request.");
  if (script?.kind === "raw") return answer(script.content);
  if (script?.kind === "json") return answer(JSON.stringify(script.json));
  const reading = {
    service: null,
    topic: null,
    objection: null,
    support: null,
    language: "en",
    reply: script?.kind === "reply" ? script.reply : null,
    ...step.understood,
  };
  return answer(JSON.stringify(reading));
}

let delivery: Awaited<ReturnType<typeof startDelivery>>;
beforeAll(async () => {
  delivery = await startDelivery();
});
afterAll(async () => {
  await delivery.close();
  await fake.close();
});

it("keeps every invented fact from consumers, and reports the model path's scorecard", {
  timeout: 600_000,
}, async () => {
  const results = [];
  const calls: { model: string; format: string | undefined; prompt: string }[] = [];
  for (const history of HISTORIES) {
    results.push(
      await replayHistory(history, {
        providers: delivery.providers,
        beforeStep: (step) =>
          fake.behave((request) => {
            calls.push({
              model: request.model,
              format: request.response_format?.type,
              prompt: request.messages[0].content,
            });
            return scripted(step);
          }),
        // A scripted wrong answer is read wrongly on purpose: only what is sent is checked there.
        checkIntent: (step) => step.model === undefined || step.model.kind === "reply",
      }),
    );
  }
  const card = scorecard(
    results,
    "Conversation evaluation, model understanding (scripted local OpenAI-protocol server)",
  );
  console.log(card.text);
  // Every request was the configured model's, with Structured Outputs and the profile as its facts.
  expect(calls.length).toBeGreaterThan(40);
  for (const call of calls) {
    expect(call).toMatchObject({ model: "gpt-5-nano-2025-08-07", format: "json_schema" });
    expect(call.prompt).toContain("the only source of facts");
  }
  const safety = results.filter((r) => r.history.rules.includes("model_safety"));
  expect(safety.every((r) => r.passed)).toBe(true);
  expect(card.overall).toBe(100);
});
