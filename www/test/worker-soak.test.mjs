// A short run of the Worker soak (worker/bench/soak.mjs, which runs 100,000 requests when asked
// by hand): 2,000 mixed valid, invalid and oversized requests through `wrangler dev --local`
// must give 0 5xx, 0 socket errors, every expected status and native parity on every valid row.
// Needs target/release/churn for the native expectations (scripts/test.sh builds it first).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

test("short soak: 2,000 mixed requests, 0 5xx, every valid answer equal to native", async () => {
  const script = new URL("../worker/bench/soak.mjs", import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(process.execPath, [script], {
    env: { ...process.env, SOAK_REQUESTS: "2000", SOAK_TIME_LIMIT_S: "60" },
    timeout: 120_000,
  }).catch((e) => assert.fail(`soak failed:\n${e.stdout}\n${e.stderr}`));
  assert.match(stdout, /soak: 2,000 requests/);
  assert.match(stdout, /5xx: 0; socket errors: 0; unexpected statuses: 0/);
  assert.match(stdout, /valid customers checked against native: [\d,]+, mismatches: 0/);
  assert.match(stdout, /monitoring: rows \d+ \(answered \d+\), invalid_rows \d+ \(refused by the core \d+\): exact/);
  assert.match(stdout, /^soak: PASS$/m);
});
