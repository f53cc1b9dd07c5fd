import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { heapLimitArguments } from "../scripts/heap-limit.js";

// The heap limit (CLOSER_HEAP_LIMIT_MB) is checked the same way whichever script starts a process:
// `npm start` (heapLimitArguments) and `npm run api` / `npm run worker` (scripts/heap-limit.js,
// compiled by the install). The scripts' own command lines run here with the entry replaced by a
// probe that prints the heap limit in effect, so nothing is started or rebuilt.

const scripts = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    scripts: Record<string, string>;
  }
).scripts;

/** Runs a package.json script's command with its entry file replaced by a probe printing the heap limit. */
function runScript(name: "api" | "worker", value: string) {
  const command = scripts[name].replace(
    /dist\/(src|worker)\/\S+\.js/,
    `-e "console.log(require('v8').getHeapStatistics().heap_size_limit)"`,
  );
  return spawnSync("sh", ["-c", command], { env: { ...process.env, CLOSER_HEAP_LIMIT_MB: value }, encoding: "utf8" });
}

describe("CLOSER_HEAP_LIMIT_MB", () => {
  for (const name of ["api", "worker"] as const) {
    it(`npm run ${name} refuses the values npm start refuses, with npm start's message`, () => {
      for (const value of ["10", "abc", "1.5"]) {
        expect(() => heapLimitArguments({ CLOSER_HEAP_LIMIT_MB: value })).toThrow(/must be an integer from 64/);
        const run = runScript(name, value);
        expect({ value, status: run.status === 0 ? "started" : "refused" }).toEqual({ value, status: "refused" });
        expect(run.stderr).toMatch(/CLOSER_HEAP_LIMIT_MB must be an integer from 64/);
      }
    });
  }
});

describe("CLOSER_HEAP_LIMIT_MB, accepted", () => {
  for (const name of ["api", "worker"] as const) {
    it(`npm run ${name} runs node with the limit given, 160 MB without one`, () => {
      for (const [value, mb] of [
        ["", 160],
        ["256", 256],
      ] as const) {
        const run = runScript(name, value);
        expect(run.status).toBe(0);
        // V8's heap limit is the old generation's plus the young generation's (a few MB).
        const limitMb = Number(run.stdout.trim()) / 2 ** 20;
        expect(limitMb).toBeGreaterThanOrEqual(mb);
        expect(limitMb).toBeLessThan(mb + 64);
      }
    });
  }
});
