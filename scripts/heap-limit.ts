import { pathToFileURL } from "node:url";

/**
 * node's arguments that bound a Closer process's JavaScript heap: V8's old-generation limit
 * (`--max-old-space-size`, in MB), CLOSER_HEAP_LIMIT_MB or 160. Without it node sizes the limit
 * from the machine's memory (about 2 GB on 24 GB), and a process under load lets garbage fill
 * that before a full collection: the API's live heap is about 66 MB, yet its RSS reached 450 MB
 * in the bench. 160 MB leaves each process room for more than twice its live heap and keeps its
 * RSS under the 250 MB the bench checks (bench/FINDINGS.md). Throws on a value that is not an
 * integer from 64.
 */
export function heapLimitArguments(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env.CLOSER_HEAP_LIMIT_MB?.trim() || "160";
  const mb = Number(raw);
  if (!Number.isInteger(mb) || mb < 64)
    throw new Error(`CLOSER_HEAP_LIMIT_MB must be an integer from 64 (MB), not "${raw}"`);
  return [`--max-old-space-size=${mb}`];
}

// Run as a script (`npm run api`, `npm run worker`: package.json), it prints the arguments for the
// shell to pass to node, or refuses a bad value with the message npm start gives.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    console.log(heapLimitArguments().join(" "));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
