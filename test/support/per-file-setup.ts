import { randomBytes } from "node:crypto";

// Each test file gets its own queue and pub/sub namespace, so workers of one file never take
// another file's jobs. Set before any module reads the configuration.
process.env.REDIS_PREFIX = `test-${randomBytes(4).toString("hex")}`;
