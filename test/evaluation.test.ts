import { afterAll, beforeAll, expect, it } from "vitest";
import { HISTORIES } from "../eval/histories.js";
import { type HistoryResult, replayHistory, scorecard, startDelivery } from "../eval/replay.js";

// The conversation evaluation on the deterministic path (no OPENAI_API_KEY): every history of
// eval/histories.ts through the real pipeline. Anything below 100% fails the suite.

delete process.env.OPENAI_API_KEY;

let delivery: Awaited<ReturnType<typeof startDelivery>>;
beforeAll(async () => {
  delivery = await startDelivery();
});
afterAll(async () => {
  await delivery.close();
});

it(`scores 100% on the ${HISTORIES.length} histories without a model`, { timeout: 600_000 }, async () => {
  expect(HISTORIES.length).toBeGreaterThanOrEqual(40);
  const results: HistoryResult[] = [];
  for (const history of HISTORIES) results.push(await replayHistory(history, { providers: delivery.providers }));
  const card = scorecard(results, "Conversation evaluation, deterministic understanding");
  console.log(card.text);
  expect(card.text).not.toContain("FAILED");
  expect(card.overall).toBe(100);
});
