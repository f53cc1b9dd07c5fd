import { request as httpRequest } from "node:http";
import { getIntrospectionQuery } from "graphql";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { type MadeCreator, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { logger } from "../src/logger.js";
import { useApi } from "./support/api.js";

// Every refused request answers a GraphQL-shaped body whose errors carry extensions.code, at
// whatever HTTP status, and text PostgreSQL cannot store is refused by validation, naming where
// it stands, before anything is written.

type Answer = {
  status: number;
  body: { errors?: { message: string; extensions?: { code?: string; field?: string } }[] };
};

const api = useApi();
let owner: MadeCreator;

beforeAll(async () => {
  owner = await makeCreator({ name: "Original Name" });
});

async function post(body: string, headers: Record<string, string> = { "content-type": "application/json" }) {
  const response = await fetch(api.url, {
    method: "POST",
    headers: { authorization: `Bearer ${owner.creatorKey}`, ...headers },
    body,
  });
  return { status: response.status, body: await response.json() } as Answer;
}

const query = (text: string, variables?: object) => JSON.stringify({ query: text, variables });

/** A raw HTTP/1.1 exchange, for framing fetch will not produce. */
function raw(headers: Record<string, string>, body: string): Promise<Answer> {
  const url = new URL(api.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers },
      (res) => {
        let text = "";
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("errors about the request", () => {
  it.each([
    [
      "a variable of the wrong type",
      query("query($id: ID!) { node(id: $id) { id } }", { id: 42.5 }),
      400,
      "BAD_USER_INPUT",
    ],
    [
      "null for a non-null variable",
      query("query($id: ID!) { node(id: $id) { id } }", { id: null }),
      400,
      "BAD_USER_INPUT",
    ],
    [
      "an unknown enum value in a variable",
      query(
        "mutation($c: ID!, $ch: Channel!) { setConsent(consumerId: $c, channel: $ch, granted: true) { __typename } }",
        {
          c: "Q29uc3VtZXI6MDAwMDAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAw",
          ch: "SMS",
        },
      ),
      400,
      "BAD_USER_INPUT",
    ],
    [
      "an impossible date",
      query(
        "query($id: ID!, $d: DateTime) { node(id: $id) { ... on Creator { events(first: 1, filter: {occurredAfter: $d}) { totalCount } } } }",
        { id: "Q3JlYXRvcjowMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDA=", d: "2024-13-45" },
      ),
      400,
      "BAD_USER_INPUT",
    ],
    ["an unknown field", query("{ nope }"), 200, "GRAPHQL_VALIDATION_FAILED"],
    ["a syntax error", query("{ viewer "), 200, "GRAPHQL_PARSE_FAILED"],
    ["a body that is not JSON", "{not json", 400, "BAD_REQUEST"],
  ])("%s", async (_name, body, status, code) => {
    const answer = await post(body);
    expect(answer.status).toBe(status);
    expect(answer.body.errors?.[0].extensions?.code).toBe(code);
  });

  it("codes errors raised while executing: a negative page size, an invalid cursor, IDs of an unknown or wrong type", async () => {
    const pages = [
      `query($id: ID!) { node(id: $id) { ... on Creator { events(first: -1) { totalCount } } } }`,
      `query($id: ID!) { node(id: $id) { ... on Creator { events(first: 1, after: "zzz") { totalCount } } } }`,
    ];
    for (const text of pages) {
      const answer = await post(query(text, { id: owner.gid }));
      expect(answer.body.errors?.[0].extensions?.code, text).toBe("BAD_USER_INPUT");
    }
    const unknownType = Buffer.from("Nope:00000000-0000-4000-8000-000000000000").toString("base64");
    const node = await post(query("query($id: ID!) { node(id: $id) { id } }", { id: unknownType }));
    expect(node.body.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    const wrongType = await post(
      query("mutation($id: ID!) { cancelAction(id: $id) { __typename } }", { id: owner.gid }),
    );
    expect(wrongType.body.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("logs the client's mistakes (an ID of another type, a bad cursor, an invalid filter) below error level: they are not server errors", async () => {
    // The API runs in this process: its logger is this one, observed, not replaced.
    const errors = vi.spyOn(logger, "error");
    try {
      const unknownType = Buffer.from("Nope:00000000-0000-4000-8000-000000000000").toString("base64");
      for (const [text, id] of [
        ["query($id: ID!) { onboarding(id: $id) { id } }", owner.gid],
        ["query($id: ID!) { node(id: $id) { id } }", unknownType],
        [
          'query($id: ID!) { node(id: $id) { ... on Creator { events(first: 1, after: "zzz") { totalCount } } } }',
          owner.gid,
        ],
        [
          'query($id: ID!) { node(id: $id) { ... on Creator { consumers(filter: {phone: "12"}) { totalCount } } } }',
          owner.gid,
        ],
      ]) {
        const answer = await post(query(text, { id }));
        expect(answer.body.errors?.[0].extensions?.code, text).toMatch(/^(BAD_USER_INPUT|VALIDATION_FAILED)$/);
      }
      expect(errors).not.toHaveBeenCalled();
    } finally {
      errors.mockRestore();
    }
  });

  it("answers HTTP-level refusals with a GraphQL body and a code", async () => {
    const viewer = query("{ viewer { kind } }");
    // Form-encoded bodies are not read (a page may send them across origins without a preflight).
    expect(
      await post("query=%7Bviewer%7Bkind%7D%7D&variables=%7Bbad", {
        "content-type": "application/x-www-form-urlencoded",
      }),
    ).toMatchObject({
      status: 415,
      body: { errors: [{ extensions: { code: "UNSUPPORTED_MEDIA_TYPE" } }] },
    });
    expect(await post(viewer, { "content-type": "text/plain" })).toMatchObject({
      status: 415,
      body: { errors: [{ extensions: { code: "UNSUPPORTED_MEDIA_TYPE" } }] },
    });
    expect(await post(viewer, { "content-type": "application/json", accept: "image/png" })).toMatchObject({
      status: 406,
      body: { errors: [{ extensions: { code: "NOT_ACCEPTABLE" } }] },
    });
    const get = await fetch(`${api.url}?query=${encodeURIComponent("{ viewer { kind } }")}&variables={bad`, {
      headers: { authorization: `Bearer ${owner.creatorKey}` },
    });
    expect({ status: get.status, body: await get.json() }).toMatchObject({
      status: 400,
      body: { errors: [{ extensions: { code: "BAD_REQUEST" } }] },
    });
    const auth = { authorization: `Bearer ${owner.creatorKey}`, "content-type": "application/json" };
    expect(await raw({ ...auth, "content-length": "5" }, viewer)).toMatchObject({
      status: 400,
      body: { errors: [{ extensions: { code: "BAD_REQUEST" } }] },
    });
    expect(await raw({ ...auth, "x-padding": "a".repeat(20_000) }, viewer)).toMatchObject({
      status: 431,
      body: { errors: [{ extensions: { code: "HEADERS_TOO_LARGE" } }] },
    });
  });
});

describe("text PostgreSQL cannot store", () => {
  it.each([
    ["a NUL character in a variable", "a\u0000b"],
    ["an unpaired surrogate in a variable", "a\ud800b"],
  ])("refuses %s, naming it, and writes nothing", async (_name, name) => {
    const answer = await post(
      query(
        "mutation($id: ID!, $input: UpdateCreatorInput!) { updateCreator(id: $id, input: $input) { __typename } }",
        {
          id: owner.gid,
          input: { name },
        },
      ),
    );
    expect(answer.body.errors?.[0].extensions).toEqual({ code: "BAD_USER_INPUT", field: "$input.name" });
    expect((await db.creator.findUniqueOrThrow({ where: { id: owner.creator.id } })).name).toBe("Original Name");
  });

  it("refuses a NUL character in a variable's default value, naming the variable", async () => {
    const answer = await post(query(`query($h: String! = "x\u0000y") { creatorByHandle(handle: $h) { id } }`));
    expect(answer.body.errors?.[0].extensions).toEqual({ code: "BAD_USER_INPUT", field: "$h" });
  });

  it("refuses a NUL character in a literal, in a JSON payload's keys and values, before ingesting", async () => {
    const literal = await post(
      query(`mutation($id: ID!) { updateCreator(id: $id, input: { name: "a\\u0000b" }) { __typename } }`, {
        id: owner.gid,
      }),
    );
    expect(literal.body.errors?.[0].extensions).toEqual({ code: "BAD_USER_INPUT", field: "input.name" });
    for (const payload of [{ note: "x\u0000y" }, { "k\u0000": 1 }, { list: ["ok", "\udc00"] }]) {
      const answer = await post(
        query("mutation($c: ID!, $e: EventInput!) { ingestEvent(creatorId: $c, event: $e) { __typename } }", {
          c: owner.gid,
          e: { consumer: { externalId: "nul" }, type: "page_view", payload },
        }),
      );
      expect(answer.body.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
      expect(answer.body.errors?.[0].extensions?.field).toMatch(/^\$e\.payload\./);
    }
    expect(await db.event.count({ where: { creatorId: owner.creator.id } })).toBe(0);
  });
});

describe("limits", () => {
  it("answers the standard introspection query, refuses deeper introspection, too many aliases, and too many node ids", async () => {
    expect((await post(query(getIntrospectionQuery()))).body.errors).toBeUndefined();
    let deep = "name";
    for (let i = 0; i < 10; i++) deep = `fields { type { ${deep} } }`;
    for (const text of [`{ __schema { types { ${deep} } } }`, `{ __type(name: "Query") { ${deep} } }`]) {
      expect((await post(query(text))).body.errors?.[0].extensions?.code).toBe("QUERY_LIMIT_EXCEEDED");
    }
    const aliases = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: viewer { kind }`).join(" ")} }`;
    expect((await post(query(aliases))).body.errors?.[0].extensions?.code).toBe("QUERY_LIMIT_EXCEEDED");
    const ids = Array.from({ length: 101 }, () => owner.gid);
    const nodes = await post(query("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", { ids }));
    expect(nodes.body.errors?.[0].extensions).toEqual({ code: "BAD_USER_INPUT", field: "ids" });
    const hundred = await post(query("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", { ids: ids.slice(1) }));
    expect(hundred.body.errors).toBeUndefined();
  });
});

describe("bodies without a length", () => {
  it("reads a chunked body up to the body limit, and refuses a larger one with 413", async () => {
    const chunked = {
      authorization: `Bearer ${owner.creatorKey}`,
      "content-type": "application/json",
      "transfer-encoding": "chunked",
    };
    expect(await raw(chunked, query("{ viewer { kind } }"))).toEqual({
      status: 200,
      body: { data: { viewer: { kind: "CREATOR" } } },
    });
    const huge = query("{ viewer { kind } }", { padding: "x".repeat(1_100_000) });
    expect(await raw(chunked, huge)).toMatchObject({
      status: 413,
      body: { errors: [{ extensions: { code: "PAYLOAD_TOO_LARGE" } }] },
    });
  });
});
