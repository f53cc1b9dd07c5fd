import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// Without an API key the whole flow still runs, with the offline profile builder.
vi.hoisted(() => {
  delete process.env.OPENAI_API_KEY;
});

import { makeAdminKey, makeCreator, uniqueHandle } from "../scripts/fixtures.js";
import { createApiKey } from "../src/auth/api-keys.js";
import { db } from "../src/db/client.js";
import { topic } from "../src/pubsub.js";
import { QUEUES, queue } from "../src/queues.js";
import { createCommandRedis } from "../src/redis.js";
import { graphql } from "./generated/gql.js";
import type { OnboardingProgressSubscription } from "./generated/graphql.js";
import { useApi } from "./support/api.js";
import { fromGlobalId } from "./support/ids.js";
import { SUCCEEDED_STEPS, startOnboarding, untilFinished } from "./support/onboarding.js";
import { eventually } from "./support/processes.js";
import { subscribeSse } from "./support/sse.js";

const OfflineRun = graphql(`
  query OfflineRun($id: ID!) {
    node(id: $id) {
      __typename
      ... on Onboarding {
        status
        error
        durationMs
        steps {
          step
          status
          message
        }
        profile {
          source
          model
          promptTokens
          completionTokens
          costEstimateUsd
          ...ProfileContent
        }
        agent {
          kind
          config
        }
        creator {
          status
          onboardings(first: 5) {
            totalCount
            edges {
              node {
                id
              }
            }
          }
        }
      }
    }
  }
`);

const CreatorStatusByHandle = graphql(`
  query CreatorStatusByHandle($handle: String!) {
    creatorByHandle(handle: $handle) {
      status
    }
  }
`);

const OnboardingProgress = graphql(`
  subscription OnboardingProgress($onboardingId: ID!) {
    onboardingProgress(onboardingId: $onboardingId) {
      status
      step {
        step
        status
      }
      onboarding {
        id
        status
      }
    }
  }
`);

const api = useApi({ worker: true });
let adminKey: string;
const redis = createCommandRedis("test-onboarding-offline");

beforeAll(async () => {
  adminKey = await makeAdminKey();
});

afterAll(async () => {
  redis.disconnect();
});

const rawData = (handle = uniqueHandle("lena")) => ({
  name: "Lena Ortiz",
  handle,
  email: "lena@example.com",
  timezone: "Europe/Madrid",
  bio: "Yoga teacher for desk workers. Fifteen years of practice, certified in Iyengar yoga.",
  services: [
    {
      name: "Desk Reset Class",
      description: "A live online class that undoes a day at the desk. Mats optional.",
      price: 15,
      currency: "EUR",
      url: "https://lena.example/class",
      durationMinutes: 45,
    },
    {
      name: "Private Session",
      description: "One to one, at your pace.",
      price: 70,
      currency: "EUR",
      durationMinutes: 60,
    },
  ],
  testimonials: ["My back pain is gone after a month of Lena's classes."],
  audienceNotes: "Office workers with back and neck pain.",
});

const onboard = (input = rawData()) => startOnboarding(api, adminKey, input);

const finishedRun = (id: string) =>
  untilFinished(async () => {
    const node = (await api.request(OfflineRun, { id }, adminKey)).data?.node;
    return node?.__typename === "Onboarding" ? node : undefined;
  });

const EXPECTED_PROGRESS = ["RUNNING", ...SUCCEEDED_STEPS, "SUCCEEDED"];

describe("offline onboarding", () => {
  it("builds a usable profile from the raw data alone, marked OFFLINE, and deploys the agent", async () => {
    const { id } = await onboard();
    const run = await finishedRun(id);

    expect(run.status).toBe("SUCCEEDED");
    expect(run.steps[1].message).toMatch(/No OPENAI_API_KEY: built offline/);
    const profile = run.profile!;
    expect(profile).toMatchObject({
      source: "OFFLINE",
      model: "offline",
      promptTokens: 0,
      completionTokens: 0,
      costEstimateUsd: 0,
      targetAudience: "Office workers with back and neck pain.",
    });
    expect(profile.summary).toContain("Yoga teacher for desk workers.");
    expect(profile.salesPitch).toContain("My back pain is gone");
    expect(profile.valuePropositions).toContain("Desk Reset Class: A live online class that undoes a day at the desk.");
    expect(profile.services).toEqual([
      {
        name: "Desk Reset Class",
        price: 15,
        currency: "EUR",
        url: "https://lena.example/class",
        durationMinutes: 45,
        pitch: "A live online class that undoes a day at the desk.",
      },
      {
        name: "Private Session",
        price: 70,
        currency: "EUR",
        url: null,
        durationMinutes: 60,
        pitch: "One to one, at your pace.",
      },
    ]);
    expect(profile.agentInstructions).toContain("You sell for Lena Ortiz.");
    expect(profile.objectionHandling[0]).toEqual({
      objection: "It is too expensive.",
      response: "Desk Reset Class is the simplest way to start, at €15.",
    });
    expect(run.agent).toMatchObject({ kind: "generic_sales", config: { profile: { summary: profile.summary } } });
    expect(run.creator.status).toBe("ACTIVE");
    expect(run.creator.onboardings).toMatchObject({ totalCount: 1, edges: [{ node: { id } }] });
  });

  it("takes the creator's new details when an existing handle is onboarded again", async () => {
    const first = rawData();
    await finishedRun((await onboard(first)).id);
    const again = {
      ...first,
      name: "Lena Ortiz-Vega",
      email: "hola@lena.example",
      phone: "+34 612 345 678",
      timezone: "Atlantic/Canary",
    };
    const second = await onboard(again);
    await finishedRun(second.id);
    const creator = await db.creator.findUniqueOrThrow({ where: { handle: first.handle } });
    expect(creator).toMatchObject({
      name: "Lena Ortiz-Vega",
      email: "hola@lena.example",
      phone: "+34612345678",
      timezone: "Atlantic/Canary",
    });
  });
});

describe("onboardingProgress subscription", () => {
  /** Holds new runs in the queue until the test has subscribed. */
  async function onboardHeld() {
    await queue(QUEUES.onboarding).pause();
    try {
      return await onboard();
    } catch (error) {
      await queue(QUEUES.onboarding).resume();
      throw error;
    }
  }

  type Progress = { data?: OnboardingProgressSubscription };
  const progressOf = (messages: Progress[]) =>
    messages.map(({ data }) => {
      const step = data?.onboardingProgress.step;
      return step ? `${step.step} ${step.status}` : data?.onboardingProgress.status;
    });
  const succeeded = (message: Progress) => message.data?.onboardingProgress.status === "SUCCEEDED";

  it("streams every step and status in order as the run goes, then ends", async () => {
    const onboarding = await onboardHeld();
    const onboardingId = fromGlobalId(onboarding.id).id;
    expect(
      (await api.request(CreatorStatusByHandle, { handle: onboarding.creator.handle }, adminKey)).data?.creatorByHandle,
    ).toEqual({ status: "ONBOARDING" });

    const live = await subscribeSse(api.url, OnboardingProgress, { onboardingId: onboarding.id }, adminKey);
    // The run starts only once the server listens on the run's channel: every event is a live one.
    await eventually(async () => {
      const [, listeners] = (await redis.pubsub("NUMSUB", topic("onboarding", onboardingId))) as [string, number];
      return listeners > 0 ? true : undefined;
    });
    await queue(QUEUES.onboarding).resume();

    await live.waitFor(succeeded);
    expect(progressOf(live.received)).toEqual(EXPECTED_PROGRESS);
    expect(live.received.at(-1)?.data?.onboardingProgress.onboarding).toEqual({
      id: onboarding.id,
      status: "SUCCEEDED",
    });
    live.close();
  });

  it("replays a finished run to a late subscriber, in the same order", async () => {
    const { id } = await onboard();
    await finishedRun(id);

    const late = await subscribeSse(api.url, OnboardingProgress, { onboardingId: id }, adminKey);
    await late.waitFor(succeeded);
    expect(progressOf(late.received)).toEqual(EXPECTED_PROGRESS);
    late.close();
  });

  it("lets the onboarded creator's key follow its run, and refuses another creator's key", async () => {
    const onboarding = await onboardHeld();
    const creatorId = fromGlobalId(onboarding.creator.id).id;
    const { secret: ownKey } = await createApiKey({ kind: "CREATOR", creatorId, name: "dashboard" }, null);
    const stranger = await makeCreator();

    const refused = await subscribeSse(
      api.url,
      OnboardingProgress,
      { onboardingId: onboarding.id },
      stranger.creatorKey,
    );
    const denial = await refused.waitFor((m) => (m.errors?.length ?? 0) > 0);
    expect(denial.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    refused.close();

    const own = await subscribeSse(api.url, OnboardingProgress, { onboardingId: onboarding.id }, ownKey);
    await queue(QUEUES.onboarding).resume();
    await own.waitFor(succeeded);
    expect(progressOf(own.received)).toEqual(EXPECTED_PROGRESS);
    own.close();
    expect(await db.onboardingLog.count({ where: { onboardingId: fromGlobalId(onboarding.id).id } })).toBe(
      SUCCEEDED_STEPS.length,
    );
  });
});
