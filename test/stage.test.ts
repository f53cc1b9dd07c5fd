import { afterAll, describe, expect, it } from "vitest";
import { nextStage, STAGES } from "../src/consumers/stage.js";
import { pool } from "../src/db/client.js";

afterAll(() => pool.end());

describe("stage rules", () => {
  it("are the same in SQL (the atomic context update) and in TypeScript (batch folding)", async () => {
    const pairs = STAGES.flatMap((current) => STAGES.map((incoming) => [current, incoming] as const));
    const { rows } = await pool.query<{ cur: string; inc: string; next: string }>(
      `SELECT cur, inc, closer_next_stage(cur::"Stage", inc::"Stage") AS next FROM unnest($1::text[], $2::text[]) AS p(cur, inc)`,
      [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    );
    expect(rows.map((r) => `${r.cur}+${r.inc}=${r.next}`)).toEqual(
      pairs.map(([c, i]) => `${c}+${i}=${nextStage(c, i)}`),
    );
  });

  it.each([
    ["NEW", "INTERESTED", "INTERESTED"],
    ["ENGAGED", "INTERESTED", "ENGAGED"],
    ["CONVERTED", "LOST", "CONVERTED"],
    ["LOST", "INTERESTED", "INTERESTED"],
    ["LOST", "NEW", "LOST"],
    ["UNSUBSCRIBED", "CONVERTED", "UNSUBSCRIBED"],
    ["CONVERTED", "UNSUBSCRIBED", "UNSUBSCRIBED"],
  ] as const)("%s then %s gives %s", (current, incoming, expected) => {
    expect(nextStage(current, incoming)).toBe(expected);
  });
});
