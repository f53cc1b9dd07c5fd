import { expect, it } from "vitest";
import { makeActiveProfile, makeCreator } from "../scripts/fixtures.js";
import { PAUSED_REASON } from "../src/agents/agent-run.js";
import { db } from "../src/db/client.js";
import { startWorker } from "../worker/worker.js";
import { useApi } from "./support/api.js";
import { toGlobalId } from "./support/ids.js";
import { eventually, freePort } from "./support/processes.js";

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

const api = useApi();

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

it("skips events that arrive while the agent is paused, says so on them, and does not replay them on resume", async () => {
  const owner = await makeCreator();
  await makeActiveProfile(owner.creator.id);
  const deployed = (
    await api.request(
      Deploy,
      { input: { creatorId: owner.gid, tunables: { welcomeDelayMinutes: 0 } } },
      owner.creatorKey,
    )
  ).data as Deployed & { deployAgent: { id?: string } };
  const agent = await db.agent.findFirstOrThrow({ where: { creatorId: owner.creator.id } });
  const agentGid = toGlobalId("Agent", agent.id);
  expect(deployed.deployAgent.__typename).toBe("Agent");
  const setStatus = (field: "pauseAgent" | "resumeAgent") =>
    api.request(
      `mutation($id: ID!) { ${field}(id: $id) { __typename ... on Agent { status } } }`,
      { id: agentGid },
      owner.creatorKey,
    );
  const view = (externalId: string) =>
    api.request(
      `mutation($c: ID!, $e: EventInput!) { ingestEvent(creatorId: $c, event: $e) { ... on IngestedEvent { event { id } } } }`,
      {
        c: owner.gid,
        e: {
          consumer: { externalId, email: `${externalId}@example.com`, consents: [{ channel: "EMAIL", granted: true }] },
          type: "page_view",
        },
      },
      owner.creatorKey,
    );
  const invocationOf = (externalId: string) =>
    eventually(
      async () => {
        const consumer = await db.consumer.findFirst({ where: { externalId, creatorId: owner.creator.id } });
        const found = consumer && (await db.agentInvocation.findFirst({ where: { consumerId: consumer.id } }));
        return found && ["COMPLETED", "SKIPPED"].includes(found.status) ? found : undefined;
      },
      15_000,
      `invocation for ${externalId}`,
    );

  const worker = await startWorker({ metricsPort: await freePort(), scheduler: false });
  try {
    expect((await setStatus("pauseAgent")).data).toEqual({ pauseAgent: { __typename: "Agent", status: "PAUSED" } });
    await view("during-pause");
    const skipped = await invocationOf("during-pause");
    expect(skipped).toMatchObject({ status: "SKIPPED", acted: false, reason: PAUSED_REASON });
    expect(await db.action.count({ where: { invocationId: skipped.id } })).toBe(0);

    await setStatus("resumeAgent");
    await view("after-resume");
    expect(await invocationOf("after-resume")).toMatchObject({ status: "COMPLETED", acted: true });
    // Resuming did not replay the paused-time event.
    expect(await db.agentInvocation.findUniqueOrThrow({ where: { id: skipped.id } })).toMatchObject({
      status: "SKIPPED",
    });
    expect(
      await db.action.count({ where: { consumer: { externalId: "during-pause", creatorId: owner.creator.id } } }),
    ).toBe(0);
  } finally {
    await worker.close();
  }
});
