import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";

// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function, self time per
// package or source folder, and inclusive time of the project's own functions.
//   npx tsx bench/profile-summary.ts bench/results/profiles/closer-api-....cpuprofile [top]

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

export type Entry = { name: string; ms: number; share: number };
export type ProfileSummary = {
  totalMs: number;
  idleMs: number;
  selfByFunction: Entry[];
  selfByArea: Entry[];
  ownInclusive: Entry[];
};

const root = new URL("../", import.meta.url).pathname;

function location(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, "").replace(root, "");
  return url ? `${url}:${frame.lineNumber + 1}` : "";
}

/** Where a function lives: a package, a folder of ours, node internals or a V8 pseudo-frame. */
function area(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, "").replace(root, "");
  if (!url) return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  if (url.startsWith("node:")) return "node internals";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  return url.split("/").slice(0, 2).join("/");
}

function top(map: Map<string, number>, total: number, count: number): Entry[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, share: Math.round((us / total) * 1000) / 10 }));
}

export function summarizeProfile(path: string, count = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const self = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));

  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  const ownInclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    if (frame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    total += us;
    const name = `${frame.functionName || "(anonymous)"} ${location(frame)}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byArea.set(area(frame), (byArea.get(area(frame)) ?? 0) + us);
    // Inclusive time of our own code (src/, worker/): each function once per stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = (byId.get(at) as ProfileNode).callFrame;
      const where = location(f);
      if (!/^(src|worker)\//.test(where)) continue;
      const key = `${f.functionName || "(anonymous)"} ${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      ownInclusive.set(key, (ownInclusive.get(key) ?? 0) + us);
    }
  }
  return {
    totalMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    selfByFunction: top(byFunction, total, count),
    selfByArea: top(byArea, total, count),
    ownInclusive: top(ownInclusive, total, count),
  };
}

export function formatSummary(summary: ProfileSummary): string {
  const section = (title: string, entries: Entry[]) => [
    title,
    ...entries.map((e) => `  ${e.share.toFixed(1).padStart(5)}%  ${String(e.ms).padStart(8)} ms  ${e.name}`),
  ];
  return [
    `busy ${summary.totalMs} ms, idle ${summary.idleMs} ms`,
    ...section("self time by function:", summary.selfByFunction),
    ...section("self time by package or folder:", summary.selfByArea),
    ...section("inclusive time of src/ and worker/ functions:", summary.ownInclusive),
  ].join("\n");
}

/** The profile of a child's main thread in its profile directory: the largest (the others are the runtime's helper threads). */
export function mainThreadProfile(dir: string): string | undefined {
  return (existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : [])
    .filter((f) => f.name.endsWith(".cpuprofile"))
    .map((f) => ({ path: `${dir}${f.name}`, size: statSync(`${dir}${f.name}`).size }))
    .sort((a, b) => b.size - a.size)[0]?.path;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, count] = process.argv.slice(2);
  if (!path) {
    console.error("usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]");
    process.exit(1);
  }
  console.log(formatSummary(summarizeProfile(path, Number(count ?? 25))));
}
