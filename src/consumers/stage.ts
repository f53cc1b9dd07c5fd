import type { Stage } from "../generated/prisma/enums.js";

// How a consumer's stage moves. The same rules run in SQL (closer_next_stage in the first
// migration) for the atomic context update; test/stage.test.ts checks the two agree.
//
// - an opt-out (UNSUBSCRIBED) always wins, and only new consent undoes it;
// - a conversion is never undone by later activity;
// - a LOST consumer re-enters the funnel with any funnel event;
// - otherwise the stage only moves forward: NEW < INTERESTED < ENGAGED < CONVERTED.
const FUNNEL: Stage[] = ["NEW", "INTERESTED", "ENGAGED", "CONVERTED", "LOST", "UNSUBSCRIBED"];

export function nextStage(current: Stage, incoming: Stage): Stage {
  if (incoming === "UNSUBSCRIBED" || current === "UNSUBSCRIBED") return "UNSUBSCRIBED";
  if (current === "CONVERTED") return current;
  if (incoming === "LOST") return incoming;
  if (current === "LOST") return incoming === "NEW" ? current : incoming;
  return FUNNEL.indexOf(incoming) > FUNNEL.indexOf(current) ? incoming : current;
}

export const STAGES = FUNNEL;
