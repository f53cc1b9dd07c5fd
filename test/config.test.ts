import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("configuration", () => {
  it("works on a developer machine with no settings at all", () => {
    const settings = loadConfig({});
    expect(settings).toMatchObject({ PORT: 4000, DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/closer" });
    expect(settings.OPENAI_API_KEY).toBeUndefined();
  });

  it("names every bad value on its own line, with what was given", () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: "abc",
        REDIS_URL: "not a url",
        GRAPHQL_INTROSPECTION: "maybe",
        WEBHOOK_SIGNING_SECRET: "short",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT="abc": /),
        expect.stringMatching(/^REDIS_URL="not a url": must be a URL/),
        expect.stringMatching(/^GRAPHQL_INTROSPECTION="maybe": must be true or false/),
        expect.stringMatching(/^WEBHOOK_SIGNING_SECRET="short": at least 16 characters/),
      ]),
    );
  });

  it("treats an empty variable as unset", () => {
    const settings = loadConfig({ PORT: "", OPENAI_API_KEY: "" });
    expect(settings.PORT).toBe(4000);
    expect(settings.OPENAI_API_KEY).toBeUndefined();
  });
});
