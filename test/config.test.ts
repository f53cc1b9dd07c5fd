import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("configuration", () => {
  it("works on a developer machine with no settings at all", () => {
    const settings = loadConfig({});
    expect(settings).toMatchObject({ PORT: 4000, DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/closer" });
    expect(settings.OPENAI_API_KEY).toBeUndefined();
  });

  it("names every bad value on its own line, with what was given, secrets withheld", () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: "abc",
        REDIS_URL: "not a url",
        GRAPHQL_INTROSPECTION: "maybe",
        WEBHOOK_SIGNING_SECRET: "short",
        DATABASE_URL: "postgres://closer:hunter2@db.internal:99999/closer",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT="abc": /),
        expect.stringMatching(/^REDIS_URL="not a url": must be a URL/),
        expect.stringMatching(/^GRAPHQL_INTROSPECTION="maybe": must be true or false/),
        expect.stringMatching(/^WEBHOOK_SIGNING_SECRET=\[redacted\]: at least 16 characters/),
        expect.stringMatching(/^DATABASE_URL="postgres:\/\/\[redacted\]@db.internal:99999\/closer": /),
      ]),
    );
    expect((error as ConfigError).message).not.toMatch(/hunter2|short/);
  });

  it("withholds a URL's password that holds '/' or '@' (which makes the URL invalid, so shown)", () => {
    const problems = [
      { DATABASE_URL: "postgresql://closer:s3cr/Et+base64@db.internal/closer" },
      { REDIS_URL: "redis://:s3cr/Et+base64@cache.internal:6379" },
      { REDIS_URL: "redis://:p@ss@cache.internal:notaport" },
    ].flatMap((env) => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    });
    expect(problems).toHaveLength(3);
    expect(problems.filter((p) => /s3cr|Et\+base64|p@ss|ss@/.test(p))).toEqual([]);
    expect(problems.every((p) => p.includes("//[redacted]@"))).toBe(true);
  });

  it("rejects a delivery lease not above the provider timeout, naming DELIVERY_LEASE_MS", () => {
    // A send waiting on its provider must never outlive its lease: the lease recovery would take
    // it for a stopped scheduler's and fail it while it may still go out.
    const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
      try {
        loadConfig(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
      return [];
    };
    const rule = /: must be above PROVIDER_TIMEOUT_MS \(1500\)/;
    expect(problemsOf({ DELIVERY_LEASE_MS: "1500", PROVIDER_TIMEOUT_MS: "1500" })).toEqual([
      expect.stringMatching(new RegExp(`^DELIVERY_LEASE_MS="1500"${rule.source}`)),
    ]);
    expect(problemsOf({ DELIVERY_LEASE_MS: "1499", PROVIDER_TIMEOUT_MS: "1500" })).toEqual([
      expect.stringMatching(new RegExp(`^DELIVERY_LEASE_MS="1499"${rule.source}`)),
    ]);
    // The default lease (5 minutes) is checked too, against a provider timeout set as long.
    expect(problemsOf({ PROVIDER_TIMEOUT_MS: "300000" })).toEqual([
      expect.stringMatching(/^DELIVERY_LEASE_MS=.*: must be above PROVIDER_TIMEOUT_MS \(300000\)/),
    ]);

    expect(loadConfig({ DELIVERY_LEASE_MS: "1501", PROVIDER_TIMEOUT_MS: "1500" })).toMatchObject({
      DELIVERY_LEASE_MS: 1501,
      PROVIDER_TIMEOUT_MS: 1500,
    });
    expect(loadConfig({ DELIVERY_LEASE_MS: "2000", PROVIDER_TIMEOUT_MS: "1500" }).DELIVERY_LEASE_MS).toBe(2000);
    // The defaults satisfy the rule.
    const defaults = loadConfig({});
    expect(defaults.DELIVERY_LEASE_MS).toBeGreaterThan(defaults.PROVIDER_TIMEOUT_MS);
  });

  it("keeps two databases' queues apart by default: the Redis prefix is the database's name unless set", () => {
    expect(loadConfig({}).REDIS_PREFIX).toBe("closer");
    const other = loadConfig({ DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/closer_staging" });
    expect(other.REDIS_PREFIX).toBe("closer_staging");
    expect(loadConfig({ DATABASE_URL: "postgresql://db.example:5432/sales%20eu.1" }).REDIS_PREFIX).toBe("sales-eu-1");
    expect(
      loadConfig({ DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/closer_staging", REDIS_PREFIX: "shared" })
        .REDIS_PREFIX,
    ).toBe("shared");
  });

  it("takes REDIS_URL as one Redis, or as a Redis Cluster's nodes, and names what is wrong with either", () => {
    expect(loadConfig({})).toMatchObject({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_CLUSTER: false });
    const seeds = "redis://10.0.0.1:7000, redis://10.0.0.2:7000";
    expect(loadConfig({ REDIS_URL: seeds })).toMatchObject({ REDIS_URL: seeds, REDIS_CLUSTER: true });
    // A managed cluster's one configuration endpoint.
    expect(loadConfig({ REDIS_URL: "rediss://:pw@cfg.example:6379", REDIS_CLUSTER: "true" }).REDIS_CLUSTER).toBe(true);

    const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problemsOf({ REDIS_URL: "redis://10.0.0.1:7000,http://10.0.0.2:7000" })).toEqual([
      expect.stringMatching(/^REDIS_URL="redis:\/\/10.0.0.1:7000,http:\/\/10.0.0.2:7000": must be a URL/),
    ]);
    // A comma too many, a blank value, a path that is no database number: refused here, not at the
    // first connection (with a stack trace).
    for (const REDIS_URL of ["redis://10.0.0.1:7000,", " ", "redis://127.0.0.1:6379/abc"]) {
      expect(problemsOf({ REDIS_URL })).toEqual([expect.stringMatching(/^REDIS_URL=".*": must be a URL/)]);
    }
    expect(problemsOf({ REDIS_URL: seeds, REDIS_CLUSTER: "false" })).toEqual([
      expect.stringMatching(/^REDIS_CLUSTER="false": REDIS_URL lists several nodes, which only a Redis Cluster has/),
    ]);
    // A single Redis may use another database; a cluster has only database 0.
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379/2" }).REDIS_CLUSTER).toBe(false);
    expect(problemsOf({ REDIS_URL: "redis://10.0.0.1:7000/2", REDIS_CLUSTER: "true" })).toEqual([
      expect.stringMatching(/^REDIS_URL="redis:\/\/10.0.0.1:7000\/2": a Redis Cluster has database 0 only/),
    ]);
  });

  it("treats an empty variable as unset", () => {
    const settings = loadConfig({ PORT: "", OPENAI_API_KEY: "" });
    expect(settings.PORT).toBe(4000);
    expect(settings.OPENAI_API_KEY).toBeUndefined();
  });
});
