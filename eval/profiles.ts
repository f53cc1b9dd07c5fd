import type { ProfileContent } from "../src/profiles/profile-content.js";

// The creators of the evaluation: a career mentor selling in dollars (a priced cohort, a priced
// call, an unpriced pack) and a placement coach selling in rupees.

export type EvalCreator = { name: string; profile: ProfileContent };

export const MENTOR: EvalCreator = {
  name: "Priya Raman",
  profile: {
    summary: "Priya Raman mentors software engineers into senior roles.",
    salesPitch:
      "Most engineers stall because nobody shows them what senior looks like. Priya has coached over two hundred engineers through that step.",
    targetAudience: "Mid-level software engineers aiming for senior roles.",
    // Written without full stops, as profiles often are: the copy must still end its sentences.
    valuePropositions: ["Senior-level interview practice", "A cohort of peers on the same path"],
    services: [
      {
        name: "Career Sprint",
        description:
          "An 8-week cohort for engineers moving into senior roles. The next cohort starts on 12 January 2027, with live sessions every Tuesday at 18:00 UTC. It includes weekly live sessions, a private community and two CV reviews.",
        price: 450,
        currency: "USD",
        url: "https://priya.example/sprint",
        durationMinutes: null,
        pitch: "The Sprint takes you from stuck to senior in eight weeks, with a cohort of peers",
      },
      {
        name: "1:1 Strategy Call",
        description: "A private call to plan your next career move, with a written action plan afterwards.",
        price: 120,
        currency: "USD",
        url: "https://priya.example/call",
        durationMinutes: 60,
        pitch: "",
      },
      {
        name: "Interview Pack",
        description: "Mock interview questions and answer templates for senior interviews.",
        price: null,
        currency: null,
        url: null,
        durationMinutes: null,
        pitch: "",
      },
    ],
    agentInstructions: "Warm, direct, never pushy.",
    objectionHandling: [
      {
        objection: "It's too expensive",
        response:
          "The Sprint usually pays for itself with the first raise, and you can pay in two instalments if that helps.",
      },
      {
        objection: "I don't have time right now",
        response: "It takes about three hours a week, and every session is recorded so you can catch up.",
      },
    ],
  },
};

export const PLACEMENT_COACH: EvalCreator = {
  name: "Ankit Sharma",
  profile: {
    summary: "Ankit Sharma prepares final-year students for campus placements.",
    salesPitch: "Campus placements reward preparation. Ankit's bootcamp covers aptitude, coding rounds and interviews.",
    targetAudience: "Final-year engineering students in India.",
    valuePropositions: ["Mock interviews with working engineers"],
    services: [
      {
        name: "Placement Bootcamp",
        description: "A 6-week bootcamp with daily practice and weekend mock interviews.",
        price: 4999,
        currency: "INR",
        url: "https://ankit.example/bootcamp",
        durationMinutes: null,
        pitch: "Six weeks of daily practice that gets you placement-ready",
      },
    ],
    agentInstructions: "Friendly and encouraging.",
    objectionHandling: [],
  },
};
