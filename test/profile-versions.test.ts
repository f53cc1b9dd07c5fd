import { beforeAll, describe, expect, it, vi } from "vitest";

// Versions are exercised on offline-built profiles: the subject is history, activation and the
// agent following the active version, not generation.
vi.hoisted(() => {
  delete process.env.OPENAI_API_KEY;
});

import { makeAdminKey, makeCreator, uniqueHandle } from "../scripts/fixtures.js";
import { createApiKey } from "../src/auth/api-keys.js";
import { db } from "../src/db/client.js";
import { graphql } from "./generated/gql.js";
import { useApi } from "./support/api.js";
import { fromGlobalId, toGlobalId } from "./support/ids.js";
import { startOnboarding, untilFinished } from "./support/onboarding.js";

const OnboardingStatus = graphql(`
  query OnboardingStatus($id: ID!) {
    onboarding(id: $id) {
      status
      error
    }
  }
`);

const EditProfile = graphql(`
  mutation EditProfile($creatorId: ID!, $changes: ProfileChangesInput!) {
    editProfile(creatorId: $creatorId, changes: $changes) {
      __typename
      ... on CreatorProfile {
        id
        version
        isActive
        source
        salesPitch
        summary
        services {
          name
          price
          currency
          pitch
        }
      }
      ...ErrorFields
    }
  }
`);

const ActivateProfileVersion = graphql(`
  mutation ActivateProfileVersion($profileId: ID!) {
    activateProfileVersion(profileId: $profileId) {
      __typename
      ... on CreatorProfile {
        id
        version
        isActive
      }
      ...ErrorFields
    }
  }
`);

const RegenerateProfile = graphql(`
  mutation RegenerateProfile($creatorId: ID!) {
    regenerateProfile(creatorId: $creatorId) {
      __typename
      ... on Onboarding {
        id
        status
      }
      ...ErrorFields
    }
  }
`);

const CreatorVersions = graphql(`
  query CreatorVersions($handle: String!) {
    creatorByHandle(handle: $handle) {
      activeProfile {
        id
        version
      }
      profiles(first: 10) {
        totalCount
        edges {
          node {
            id
            version
            isActive
            source
          }
        }
      }
      agents {
        profile {
          id
        }
        config
      }
    }
  }
`);

const api = useApi({ worker: true });
let adminKey: string;

beforeAll(async () => {
  adminKey = await makeAdminKey();
});

async function waitForRun(onboardingGid: string) {
  const run = await untilFinished(
    async () => (await api.request(OnboardingStatus, { id: onboardingGid }, adminKey)).data?.onboarding,
  );
  expect(run).toEqual({ status: "SUCCEEDED", error: null });
}

/** An onboarded creator (profile v1 active, agent deployed) and its own creator key. */
async function onboardedCreator() {
  const handle = uniqueHandle("noor");
  const result = await startOnboarding(api, adminKey, {
    name: "Noor Haddad",
    handle,
    bio: "Baker teaching sourdough to beginners.",
    services: [{ name: "Sourdough Basics", description: "A weekend course.", price: 90, currency: "GBP" }],
  });
  await waitForRun(result.id);
  const creatorId = fromGlobalId(result.creator.id).id;
  const { secret: key } = await createApiKey({ kind: "CREATOR", creatorId, name: "dashboard" }, null);
  return { handle, creatorId, gid: result.creator.id, key };
}

async function versionsOf(handle: string, key: string) {
  const creator = (await api.request(CreatorVersions, { handle }, key)).data?.creatorByHandle;
  if (!creator) throw new Error(`creator ${handle} not found`);
  const agentProfile = creator.agents[0].config as {
    profile: { profileId: string; version: number; salesPitch: string };
  };
  return {
    active: creator.activeProfile,
    versions: creator.profiles.edges.map(
      (e) => `v${e.node.version} ${e.node.source}${e.node.isActive ? " active" : ""}`,
    ),
    total: creator.profiles.totalCount,
    agentProfileId: creator.agents[0].profile?.id,
    agentSnapshot: agentProfile.profile,
  };
}

describe("profile versions", () => {
  it("keeps history on edit, rolls back to an older version, and the agent always works from the active one", async () => {
    const noor = await onboardedCreator();
    const v1 = await versionsOf(noor.handle, noor.key);
    expect(v1.versions).toEqual(["v1 OFFLINE active"]);

    const edited = await api.request(
      EditProfile,
      {
        creatorId: noor.gid,
        changes: {
          salesPitch: "Bake your first loaf this weekend.",
          services: [{ name: "Sourdough Basics", price: 95, currency: "GBP", pitch: "Two days, one perfect loaf." }],
        },
      },
      noor.key,
    );
    const v2 = edited.data?.editProfile;
    if (v2?.__typename !== "CreatorProfile") throw new Error(JSON.stringify(edited));
    expect(v2).toMatchObject({
      version: 2,
      isActive: true,
      source: "MANUAL",
      salesPitch: "Bake your first loaf this weekend.",
      services: [{ name: "Sourdough Basics", price: 95, currency: "GBP", pitch: "Two days, one perfect loaf." }],
    });
    const afterEdit = await versionsOf(noor.handle, noor.key);
    expect(afterEdit.versions).toEqual(["v2 MANUAL active", "v1 OFFLINE"]);
    // Unchanged fields come from the version the edit was based on.
    expect(v2.summary).toContain("Baker teaching sourdough to beginners.");
    expect(afterEdit.agentProfileId).toBe(v2.id);
    expect(afterEdit.agentSnapshot).toMatchObject({ version: 2, salesPitch: "Bake your first loaf this weekend." });

    const rollback = await api.request(ActivateProfileVersion, { profileId: v1.active!.id }, noor.key);
    expect(rollback.data?.activateProfileVersion).toMatchObject({
      __typename: "CreatorProfile",
      version: 1,
      isActive: true,
    });
    const afterRollback = await versionsOf(noor.handle, noor.key);
    expect(afterRollback.versions).toEqual(["v2 MANUAL", "v1 OFFLINE active"]);
    expect(afterRollback.agentProfileId).toBe(v1.active!.id);
    expect(afterRollback.agentSnapshot.version).toBe(1);
    expect(afterRollback.agentSnapshot.salesPitch).toBe(v1.agentSnapshot.salesPitch);

    const audit = await db.auditLog.findMany({
      where: { creatorId: noor.creatorId, operation: { in: ["profile.edit", "profile.activate"] } },
      orderBy: { createdAt: "asc" },
    });
    expect(audit.map((row) => `${row.operation} by ${row.actorKind}`)).toEqual([
      "profile.edit by CREATOR",
      "profile.activate by CREATOR",
    ]);
    expect(audit[1].details).toEqual({ version: 1, previousVersion: 2 });
  });

  it("regenerates from the last raw data as a new active version (the offline builder gives the same content)", async () => {
    const noor = await onboardedCreator();
    const before = await versionsOf(noor.handle, noor.key);

    const response = await api.request(RegenerateProfile, { creatorId: noor.gid }, noor.key);
    const run = response.data?.regenerateProfile;
    if (run?.__typename !== "Onboarding") throw new Error(JSON.stringify(response));
    expect(run.status).toBe("QUEUED");
    await waitForRun(run.id);

    const after = await versionsOf(noor.handle, noor.key);
    expect(after.versions).toEqual(["v2 OFFLINE active", "v1 OFFLINE"]);
    expect(after.agentSnapshot.version).toBe(2);
    const { profileId: _v2, version: _2, ...regenerated } = after.agentSnapshot;
    const { profileId: _v1, version: _1, ...original } = before.agentSnapshot;
    expect(regenerated).toEqual(original);
    expect(await db.agent.count({ where: { creatorId: noor.creatorId } })).toBe(1);
  });

  it("keeps exactly one active version under concurrent edits, each with its own version number", async () => {
    const noor = await onboardedCreator();
    const pitches = ["First pitch.", "Second pitch.", "Third pitch.", "Fourth pitch."];
    const results = await Promise.all(
      pitches.map((salesPitch) => api.request(EditProfile, { creatorId: noor.gid, changes: { salesPitch } }, noor.key)),
    );
    expect(results.map((r) => r.data?.editProfile?.__typename)).toEqual(pitches.map(() => "CreatorProfile"));

    const rows = await db.creatorProfile.findMany({
      where: { creatorId: noor.creatorId },
      orderBy: { version: "asc" },
    });
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5]);
    expect(rows.filter((r) => r.isActive).map((r) => r.version)).toEqual([5]);
    const agent = await db.agent.findFirstOrThrow({ where: { creatorId: noor.creatorId } });
    expect(agent.profileId).toBe(rows[4].id);
    expect((agent.config as { profile: { salesPitch: string } }).profile.salesPitch).toBe(rows[4].salesPitch);
  });

  it("answers bad edits with typed errors and changes nothing", async () => {
    const noor = await onboardedCreator();
    const badCurrency = await api.request(
      EditProfile,
      { creatorId: noor.gid, changes: { services: [{ name: "Loaf", currency: "pounds" }], valuePropositions: [] } },
      noor.key,
    );
    const result = badCurrency.data?.editProfile;
    if (result?.__typename !== "ValidationError") throw new Error(JSON.stringify(badCurrency));
    expect(result.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(["changes.services.0.currency", "changes.valuePropositions"]),
    );

    const nothing = await api.request(EditProfile, { creatorId: noor.gid, changes: { summary: null } }, noor.key);
    expect(nothing.data?.editProfile).toMatchObject({
      __typename: "ValidationError",
      message: "Send at least one field to change",
    });

    const unknown = await api.request(
      ActivateProfileVersion,
      { profileId: toGlobalId("CreatorProfile", "00000000-0000-4000-8000-000000000000") },
      noor.key,
    );
    expect(unknown.data?.activateProfileVersion).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });

    const neverOnboarded = await makeCreator();
    const regenerate = await api.request(
      RegenerateProfile,
      { creatorId: neverOnboarded.gid },
      neverOnboarded.creatorKey,
    );
    expect(regenerate.data?.regenerateProfile).toMatchObject({ __typename: "ConflictError", code: "CONFLICT" });

    expect(await db.creatorProfile.count({ where: { creatorId: noor.creatorId } })).toBe(1);
  });

  it("refuses another creator's key on every version mutation", async () => {
    const noor = await onboardedCreator();
    const stranger = await makeCreator();
    const { active } = await versionsOf(noor.handle, noor.key);

    const attempts = await Promise.all([
      api.request(EditProfile, { creatorId: noor.gid, changes: { salesPitch: "Hijacked." } }, stranger.creatorKey),
      api.request(ActivateProfileVersion, { profileId: active!.id }, stranger.creatorKey),
      api.request(RegenerateProfile, { creatorId: noor.gid }, stranger.creatorKey),
    ]);
    // Mutations named by creator id are refused; one named by another creator's row answers as for an unknown row.
    expect([attempts[0], attempts[2]].map((a) => a.errors?.[0].extensions?.code)).toEqual(["FORBIDDEN", "FORBIDDEN"]);
    expect(attempts[1].data?.activateProfileVersion).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });
    expect(await db.creatorProfile.count({ where: { creatorId: noor.creatorId } })).toBe(1);
    expect(await db.onboarding.count({ where: { creatorId: noor.creatorId } })).toBe(1);
  });
});
