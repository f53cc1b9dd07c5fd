import { describe, expect, it } from "vitest";
import { capabilitiesOf, estimateCostUsd } from "../src/llm/models.js";
import { profileRequest } from "../src/onboarding/profile-generator.js";

const messages = [{ role: "user" as const, content: "Return JSON." }];

describe("what each model is sent", () => {
  it.each([
    ["gpt-5-nano-2025-08-07", "json_schema", false],
    ["gpt-5-mini", "json_schema", false],
    ["o4-mini-2025-04-16", "json_schema", false],
    ["gpt-4o-mini-2024-07-18", "json_schema", true],
    ["gpt-4.1", "json_schema", true],
    ["gpt-3.5-turbo-0125", "json_object", true],
    ["llama-3.1-70b-instruct", "json_object", true],
  ])("%s gets response_format %s, temperature %s", (model, format, temperature) => {
    const request = profileRequest(model, messages);
    expect(request.response_format?.type).toBe(format);
    expect("temperature" in request).toBe(temperature);
    expect(capabilitiesOf(model)).toEqual({ structuredOutput: format === "json_schema", temperature });
  });

  it("sends a strict schema that requires every profile field", () => {
    const request = profileRequest("gpt-5-nano", messages);
    if (request.response_format?.type !== "json_schema") throw new Error("expected json_schema");
    const schema = request.response_format.json_schema.schema as { required: string[]; additionalProperties: boolean };
    expect(request.response_format.json_schema.strict).toBe(true);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual([
      "summary",
      "salesPitch",
      "targetAudience",
      "valuePropositions",
      "services",
      "agentInstructions",
      "objectionHandling",
    ]);
  });
});

describe("cost estimates", () => {
  it("prices a dated model id by its family, the longest matching name first", () => {
    expect(estimateCostUsd("gpt-5-nano-2025-08-07", 1_000_000, 1_000_000)).toBeCloseTo(0.45, 10);
    expect(estimateCostUsd("gpt-5", 1_000_000, 0)).toBeCloseTo(1.25, 10);
    expect(estimateCostUsd("gpt-4o-mini", 2_000, 1_000)).toBeCloseTo(0.0009, 10);
  });

  it("gives no estimate for a model without a known price", () => {
    expect(estimateCostUsd("llama-3.1-70b-instruct", 1000, 1000)).toBeNull();
  });
});
