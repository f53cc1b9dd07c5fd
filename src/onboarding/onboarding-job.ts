import { type Job, UnrecoverableError } from "bullmq";
import { deployAgent } from "../agents/agent-service.js";
import { recordAudit } from "../audit/audit-log.js";
import { activateOnboardedCreator } from "../creators/creator-store.js";
import { pool } from "../db/client.js";
import { inTransaction } from "../db/transaction.js";
import { DomainError, ValidationError } from "../errors.js";
import type { CreatorProfile, Onboarding } from "../generated/prisma/client.js";
import type { OnboardingStatus, OnboardingStepStatus } from "../generated/prisma/enums.js";
import { llmConfigured } from "../llm/openai-client.js";
import { isOutage } from "../outages.js";
import type { ProfileContent } from "../profiles/profile-content.js";
import { storeProfileVersion } from "../profiles/profile-service.js";
import { findProfile, type ProfileProvenance } from "../profiles/profile-store.js";
import type { OnboardingJob } from "../queues.js";
import { buildOfflineProfile, OFFLINE_MODEL } from "./offline-profile.js";
import { announceProgress } from "./onboarding-progress.js";
import {
  findOnboarding,
  holdOnboardingForReview,
  insertOnboardingLog,
  markOnboardingFinished,
  markOnboardingRunning,
  type OnboardingLogEntry,
  setOnboardingAgent,
  setOnboardingProfile,
} from "./onboarding-store.js";
import {
  askModel,
  correctionPrompt,
  type ModelAnswer,
  type ModelUsage,
  ProfileGenerationError,
  profilePrompt,
  totalUsage,
} from "./profile-generator.js";
import { type GroundingResult, groundProfile } from "./profile-grounding.js";
import { checkProfile, type ProfileCheck, repairProfileAnswer } from "./profile-repair.js";
import { type RawData, rawDataSchema } from "./raw-data.js";

// One onboarding run: generate_profile -> validate (-> correct_profile) -> check_facts ->
// store_profile -> deploy_agent. Each step writes a STARTED row and an outcome row (never updated:
// the log is an audit trail) and announces both. A failure ends the run with the step and reason
// on the row. A profile check_facts holds for review is stored inactive and ends the run as
// NEEDS_REVIEW, with no agent deployed from it.

type StepName = "generate_profile" | "validate" | "correct_profile" | "check_facts" | "store_profile" | "deploy_agent";

type StepOutcome<T> = {
  value: T;
  /** A step may finish without throwing yet fail (an answer that does not validate). */
  failed?: boolean;
  message: string;
  details?: OnboardingLogEntry["details"];
};

/** Ends the run: the step's FAILED row is already written. */
class StepFailure extends Error {
  constructor(
    readonly step: StepName,
    message: string,
  ) {
    super(message);
  }
}

export type OnboardingOutcome = { onboardingId: string; status: OnboardingStatus };

/** The version a run stored, and whether it was held for review (stored inactive). */
type StoredProfile = { profile: CreatorProfile | null; held: boolean };

/** The onboarding processor; the payload was checked against the queue's schema (registerProcessor). */
export async function processOnboardingJob(job: Job<OnboardingJob>): Promise<OnboardingOutcome> {
  const { onboardingId } = job.data;
  const onboarding = await findOnboarding(onboardingId);
  if (!onboarding) throw new UnrecoverableError(`Onboarding ${onboardingId} does not exist (any more)`);
  // BullMQ may deliver a job twice (a stalled worker): a finished run is not run again, and a
  // profile held for review waits for a person.
  if (onboarding.status === "SUCCEEDED" || onboarding.status === "NEEDS_REVIEW") {
    return { onboardingId, status: onboarding.status };
  }

  const run = new OnboardingRun(onboarding);
  await run.begin();
  try {
    // A previous delivery stored the profile before its worker died: only the agent is left to do.
    const built = onboarding.profileId
      ? { profile: await findProfile(pool, onboarding.profileId), held: false }
      : await run.buildProfile();
    const { profile } = built;
    if (!profile) throw new Error(`Profile ${onboarding.profileId} of onboarding ${onboardingId} does not exist`);
    if (built.held) {
      await run.announceHeld();
      return { onboardingId, status: "NEEDS_REVIEW" };
    }
    await run.deployAgent(profile);
    await run.finish("SUCCEEDED", null);
    return { onboardingId, status: "SUCCEEDED" };
  } catch (error) {
    // PostgreSQL or Redis away: the run is not the problem. It stays RUNNING and its job ends, so
    // the stranded-onboarding sweep runs it again once the dependency is back.
    if (isOutage(error)) throw error;
    const reason = error instanceof StepFailure ? `${error.step}: ${error.message}` : errorMessage(error);
    await run.finish("FAILED", reason);
    // Recorded on the onboarding (the record an operator reads); the job is not retried.
    throw new UnrecoverableError(reason);
  }
}

class OnboardingRun {
  private readonly creatorId: string;
  private readonly onboardingId: string;
  /** Log rows of a run sort by createdAt, whose milliseconds would tie for quick steps. */
  private lastLoggedAt = 0;

  constructor(private readonly onboarding: Onboarding) {
    this.creatorId = onboarding.creatorId;
    this.onboardingId = onboarding.id;
  }

  async begin() {
    await markOnboardingRunning(this.onboardingId);
    await this.announce(null, "RUNNING");
  }

  async finish(status: "SUCCEEDED" | "FAILED", error: string | null) {
    await markOnboardingFinished(this.onboardingId, status, error);
    await this.announce(null, status);
  }

  /** The held run's end is already stored with its profile: only announced here. */
  async announceHeld() {
    await this.announce(null, "NEEDS_REVIEW");
  }

  async buildProfile(): Promise<StoredProfile> {
    const raw = rawDataSchema.safeParse(this.onboarding.rawData);
    if (!raw.success) {
      const invalid = ValidationError.fromZod(raw.error, "rawData");
      return this.step<never>("generate_profile", () => Promise.reject(invalid));
    }
    return llmConfigured() ? this.buildWithModel(raw.data) : this.buildOffline(raw.data);
  }

  private async buildOffline(raw: RawData): Promise<StoredProfile> {
    const draft = await this.step("generate_profile", async () => {
      const started = performance.now();
      const content = buildOfflineProfile(raw);
      return {
        value: { content, latencyMs: Math.round(performance.now() - started) },
        message: "No OPENAI_API_KEY: built offline from the raw data (source OFFLINE)",
        details: { model: OFFLINE_MODEL },
      };
    });
    const check = await this.validate("validate", () => checkProfile(draft.content));
    if (!check.ok) throw new StepFailure("validate", `The offline profile failed validation: ${summarise(check)}`);
    return this.store(await this.checkFacts(check.profile, raw), {
      source: "OFFLINE",
      model: OFFLINE_MODEL,
      promptTokens: 0,
      completionTokens: 0,
      latencyMs: draft.latencyMs,
      costEstimateUsd: 0,
    });
  }

  private async buildWithModel(raw: RawData): Promise<StoredProfile> {
    const usages: ModelUsage[] = [];
    const answer = await this.step("generate_profile", async () => {
      const reply = await askModel(profilePrompt(raw));
      usages.push(reply.usage);
      return { value: reply, message: describeAnswer(reply), details: answerDetails(reply) };
    });
    let check = await this.validate("validate", () =>
      repairProfileAnswer(answer.text, { finishReason: answer.finishReason }),
    );
    if (!check.ok) {
      const first = check;
      // One more call, with what was wrong; a second invalid answer ends the run.
      check = await this.validate("correct_profile", async () => {
        const reply = await askModel(correctionPrompt(raw, answer.text, first.issues));
        usages.push(reply.usage);
        return repairProfileAnswer(reply.text, { finishReason: reply.finishReason });
      });
      if (!check.ok) {
        throw new StepFailure("correct_profile", `The model's answer failed validation twice: ${summarise(check)}`);
      }
    }
    const usage = totalUsage(usages);
    return this.store(await this.checkFacts(check.profile, raw), { source: "LLM", ...usage });
  }

  /** The profile against the raw data (profile-grounding.ts): what was corrected, removed, and why it is held. */
  private checkFacts(profile: ProfileContent, raw: RawData) {
    return this.step("check_facts", async () => {
      const grounding = groundProfile(profile, raw);
      const { findings, holdReasons } = grounding;
      const changed =
        findings.length === 0 ? "Every fact is in the raw data" : `${findings.length} corrected or removed`;
      return {
        value: grounding,
        message: holdReasons.length > 0 ? `${changed}; held for review: ${holdReasons.join("; ")}` : changed,
        details: { findings, holdReasons },
      };
    });
  }

  private validate(step: "validate" | "correct_profile", check: () => ProfileCheck | Promise<ProfileCheck>) {
    return this.step<ProfileCheck>(step, async () => {
      const result = await check();
      return result.ok
        ? {
            value: result,
            message: result.repairs.length > 0 ? `Valid after ${result.repairs.length} repairs` : "Valid as given",
            details: { repairs: result.repairs },
          }
        : {
            value: result,
            failed: true,
            message: `Invalid: ${summarise(result)}`,
            details: { repairs: result.repairs, issues: result.issues },
          };
    });
  }

  private store(grounding: GroundingResult, provenance: ProfileProvenance): Promise<StoredProfile> {
    const held = grounding.holdReasons.length > 0;
    return this.step("store_profile", async () => {
      const profile = await inTransaction(async (tx) => {
        const stored = await storeProfileVersion(tx, this.creatorId, grounding.profile, provenance, { held });
        await setOnboardingProfile(tx, this.onboardingId, stored.id);
        if (held) await holdOnboardingForReview(tx, this.onboardingId, grounding.holdReasons);
        await recordAudit(tx, null, {
          operation: "profile.create",
          creatorId: this.creatorId,
          targetType: "CreatorProfile",
          targetId: stored.id,
          details: {
            version: stored.version,
            source: stored.source,
            onboardingId: this.onboardingId,
            ...(held ? { heldForReview: grounding.holdReasons } : {}),
          },
        });
        return stored;
      });
      return {
        value: { profile, held },
        message: held
          ? `Stored profile version ${profile.version} (${profile.source}), held for review: not active, no agent deployed`
          : `Stored profile version ${profile.version} (${profile.source}), now active`,
        details: { profileId: profile.id, version: profile.version, held },
      };
    });
  }

  async deployAgent(profile: CreatorProfile) {
    return this.step("deploy_agent", async () => {
      const agent = await inTransaction(async (tx) => {
        const deployed = await deployAgent({ creatorId: this.creatorId }, null, tx);
        if (await activateOnboardedCreator(tx, this.creatorId)) {
          await recordAudit(tx, null, {
            operation: "creator.activate",
            creatorId: this.creatorId,
            targetType: "Creator",
            targetId: this.creatorId,
            details: { onboardingId: this.onboardingId },
          });
        }
        await setOnboardingAgent(tx, this.onboardingId, deployed.id);
        return deployed;
      });
      return {
        value: agent,
        message: `Deployed "${agent.name}" (${agent.kind}, ${agent.runtime}) with profile version ${profile.version}`,
        details: { agentId: agent.id, kind: agent.kind, runtime: agent.runtime, profileVersion: profile.version },
      };
    });
  }

  /** Runs one step between its STARTED row and its outcome row; a thrown error fails the run. */
  private async step<T>(name: StepName, work: () => Promise<StepOutcome<T>>): Promise<T> {
    await this.log(name, "STARTED", {});
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let outcome: StepOutcome<T>;
    try {
      outcome = await work();
    } catch (error) {
      await this.log(name, "FAILED", {
        message: errorMessage(error),
        details: errorDetails(error),
        durationMs: elapsed(),
      });
      throw new StepFailure(name, errorMessage(error));
    }
    const { failed, message, details } = outcome;
    await this.log(name, failed ? "FAILED" : "SUCCEEDED", { message, details, durationMs: elapsed() });
    return outcome.value;
  }

  private async log(
    step: StepName,
    status: OnboardingStepStatus,
    entry: Pick<OnboardingLogEntry, "message" | "details" | "durationMs">,
  ) {
    this.lastLoggedAt = Math.max(Date.now(), this.lastLoggedAt + 1);
    const logId = await insertOnboardingLog({
      onboardingId: this.onboardingId,
      step,
      status,
      ...entry,
      createdAt: new Date(this.lastLoggedAt),
    });
    await this.announce(logId, status);
  }

  private announce(logId: string | null, status: string) {
    return announceProgress({ creatorId: this.creatorId, onboardingId: this.onboardingId, logId, status });
  }
}

function describeAnswer(reply: ModelAnswer): string {
  const { model, latencyMs, promptTokens, completionTokens, costEstimateUsd } = reply.usage;
  const cost = costEstimateUsd === null ? "cost unknown" : `~$${costEstimateUsd.toFixed(5)}`;
  const cut = reply.finishReason === "length" ? "; the answer was cut off at the token limit" : "";
  const refused = reply.refusal ? `; the model refused: ${reply.refusal}` : "";
  return `${model} answered in ${latencyMs} ms (${promptTokens} prompt + ${completionTokens} completion tokens, ${cost})${cut}${refused}`;
}

function answerDetails(reply: ModelAnswer): OnboardingLogEntry["details"] {
  return { ...reply.usage, finishReason: reply.finishReason, refusal: reply.refusal };
}

function summarise(check: Extract<ProfileCheck, { ok: false }>): string {
  return check.issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; ");
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorDetails(error: unknown): OnboardingLogEntry["details"] {
  if (error instanceof ProfileGenerationError) return error.details;
  if (error instanceof ValidationError) return { code: error.code, issues: error.issues };
  if (error instanceof DomainError) return { code: error.code };
  return undefined;
}
