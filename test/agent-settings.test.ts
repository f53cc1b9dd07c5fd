import { afterAll, beforeAll, expect, it } from "vitest";
import { makeCreator, startApi, type TestApi } from "./support/api.js";
import { makeActiveProfile } from "./support/profile-fixture.js";

// deployAgent changes what it is given and keeps the rest, as the schema says: a later deploy
// with one tunable (or none, as onboarding's redeploy on a new profile) resets nothing else.

const Deploy = `mutation($input: DeployAgentInput!) { deployAgent(input: $input) {
  __typename ... on Agent { kind runtime config } ... on ValidationError { issues { path message } } } }`;

type Deployed = {
  deployAgent: {
    __typename: string;
    kind?: string;
    runtime?: string;
    config?: { tunables: Record<string, unknown> };
    issues?: { path: string }[];
  };
};

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.close());

it("keeps the runtime and the tunables a later deploy does not name", async () => {
  const owner = await makeCreator();
  await makeActiveProfile(owner.creator.id);
  const deploy = async (input: Record<string, unknown>) =>
    (await api.request(Deploy, { input: { creatorId: owner.gid, ...input } }, owner.creatorKey)).data as Deployed;

  const first = await deploy({
    runtime: "LANGGRAPH",
    tunables: { welcomeDelayMinutes: 0, serviceViewsForFollowUp: 3 },
  });
  expect(first.deployAgent).toMatchObject({ __typename: "Agent", runtime: "LANGGRAPH" });

  const second = await deploy({ tunables: { minHoursBetweenMessages: 6 } });
  expect(second.deployAgent).toMatchObject({ kind: "generic_sales", runtime: "LANGGRAPH" });
  expect(second.deployAgent.config?.tunables).toMatchObject({
    welcomeDelayMinutes: 0,
    serviceViewsForFollowUp: 3,
    minHoursBetweenMessages: 6,
  });

  // A redeploy naming nothing (what onboarding and regenerateProfile do) keeps everything.
  const third = await deploy({});
  expect(third.deployAgent).toMatchObject({ runtime: "LANGGRAPH" });
  expect(third.deployAgent.config?.tunables).toEqual(second.deployAgent.config?.tunables);
});

it("refuses an external runtime without its service, naming the field", async () => {
  const owner = await makeCreator();
  const answer = (
    await api.request(Deploy, { input: { creatorId: owner.gid, runtime: "EXTERNAL_HTTP" } }, owner.creatorKey)
  ).data as Deployed;
  expect(answer.deployAgent).toMatchObject({ __typename: "ValidationError", issues: [{ path: "externalHttp" }] });
});

it("shows the frequency caps that apply: the creator's own, else the platform default", async () => {
  const owner = await makeCreator();
  const answer = await api.request(
    `mutation($id: ID!) { updateCreator(id: $id, input: { frequencyCaps: [{ channel: WHATSAPP, max: 2, windowHours: 12 }] }) {
      ... on Creator { frequencyCaps { channel max windowHours } effectiveFrequencyCaps { channel max windowHours source } } } }`,
    { id: owner.gid },
    owner.creatorKey,
  );
  expect(answer.data).toEqual({
    updateCreator: {
      frequencyCaps: [{ channel: "WHATSAPP", max: 2, windowHours: 12 }],
      effectiveFrequencyCaps: [
        { channel: "EMAIL", max: 3, windowHours: 24, source: "DEFAULT" },
        { channel: "WHATSAPP", max: 2, windowHours: 12, source: "CREATOR" },
      ],
    },
  });
});
