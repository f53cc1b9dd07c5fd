// Writes schema.graphql from the code; with --check, fails when the checked-in file is stale.
import { readFileSync, writeFileSync } from "node:fs";

const { printSortedSchema } = await import("../src/api/schema.js");
const printed = printSortedSchema();
const path = new URL("../schema.graphql", import.meta.url);

if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(path, "utf8");
  } catch {}
  if (current !== printed) {
    console.error("schema.graphql is stale: run `npm run schema:print` and commit it.");
    process.exit(1);
  }
  console.log("schema.graphql is up to date");
} else {
  writeFileSync(path, printed);
  console.log("wrote schema.graphql");
}
process.exit(0);
