// The demo page's Drift view in headless Chromium (Debian's /usr/bin/chromium via playwright-core,
// www/dist served on 127.0.0.1 by the harness, started and stopped here). A recent CSV dropped on
// the view is profiled by the core in the page's Web Worker; every figure shown (levels, PSI per
// field and their order, rows scored and refused, the score's PSI) must equal `churn monitor
// --json` (target/release/churn) on the same file, and the histograms must have the model's
// bins. Needs `npm run build` (the site) and target/release/churn.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serve, browser, root, scratch } from "../site/e2e/harness.mjs";

const churn = join(root, "target", "release", "churn");
const defaultModel = join(root, "www", "worker", "model.bin");
const work = join(scratch, "drift");
const shots = join(root, "build", "screenshots");
let server, ctx, page;

/** data/telco_test.csv with the documented shift: 30 % of rows tenure 0–6, 5 % a new PaymentMethod. */
function shiftedTelco() {
  const [header, ...rows] = readFileSync(join(root, "data", "telco_test.csv"), "utf8")
    .trimEnd()
    .split("\n");
  const cols = header.split(",");
  const tenure = cols.indexOf("tenure"),
    pay = cols.indexOf("PaymentMethod");
  const out = rows.map((line, i) => {
    const f = line.split(",");
    if (f.length !== cols.length) return line; // a quoted comma: leave the row as it is
    if (i % 10 < 3) f[tenure] = String(i % 7);
    if (i % 20 === 0) f[pay] = "Crypto wallet";
    return f.join(",");
  });
  const file = join(work, "telco_shifted.csv");
  writeFileSync(file, `${[header, ...out].join("\n")}\n`);
  return file;
}

async function drop(path) {
  await page.evaluate(() => {
    delete document.body.dataset.driftState;
  });
  await page.setInputFiles("#drift-file", path);
  await page.waitForSelector("body[data-drift-state=done], body[data-drift-state=error]", { timeout: 30000 });
}

before(async () => {
  mkdirSync(work, { recursive: true });
  mkdirSync(shots, { recursive: true });
  server = await serve();
  ctx = await browser({ profile: "chromium-drift" });
  page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(server.url);
  await page.waitForSelector("body[data-first-prediction-ms]", { timeout: 20000 });
});

after(async () => {
  await ctx?.close();
  await server?.close();
});

test("a shifted Telco CSV: the page shows churn monitor's levels, PSIs (most drifted first), counts and bins", async () => {
  const file = shiftedTelco();
  const native = JSON.parse(execFileSync(churn, ["monitor", "--model", defaultModel, "--data", file, "--json"], { encoding: "utf8" }));
  await drop(file);
  assert.equal(await page.getAttribute("body", "data-drift-state"), "done");
  const shown = await page.$$eval("#drift-bars li", (lis) => lis.map((li) => ({ ...li.dataset })));
  assert.deepEqual(
    shown.map((d) => [d.field, d.level, Number(d.psi)]),
    native.fields.map((f) => [f.field, f.level, f.psi]),
  );
  // The documented shift flags tenure and PaymentMethod, and nothing else.
  assert.deepEqual(
    native.fields
      .filter((f) => f.level !== "stable")
      .map((f) => f.field)
      .sort(),
    ["PaymentMethod", "tenure"],
  );
  const summary = await page.textContent("#drift-summary");
  assert.match(summary, new RegExp(`telco_shifted\\.csv against the training rows: ${native.level.toUpperCase()} \\(`));
  assert.match(summary, new RegExp(`\\(${native.rows.toLocaleString("en")} rows scored, ${native.invalid_rows} refused\\)`));
  assert.match(
    await page.textContent("#drift-score"),
    new RegExp(`^Score: PSI ${native.score.psi.toFixed(3)} \\(${native.score.level}\\)`),
  );
  // One histogram per field, most drifted first, with the model's bins plus missing and unseen.
  const hists = await page.$$eval("#drift-hists figure", (fs) =>
    fs.map((f) => ({
      field: f.dataset.field,
      ref: f.querySelectorAll("rect.ref-bar").length,
      cur: [...f.querySelectorAll("rect.cur-bar")].map((r) => r.querySelector("title").textContent),
    })),
  );
  assert.deepEqual(
    hists.map((h) => h.field),
    native.fields.map((f) => f.field),
  );
  const tenure = hists.find((h) => h.field === "tenure");
  const info = JSON.parse(execFileSync(churn, ["inspect", defaultModel, "--json"], { encoding: "utf8" }));
  assert.equal(info.format_version, 3);
  assert.ok(tenure.ref >= 3 && tenure.ref === tenure.cur.length);
  const pay = hists.find((h) => h.field === "PaymentMethod");
  assert.equal(pay.ref, 4 + 2, "four levels, missing, unseen");
  const unseen = pay.cur.find((t) => t.startsWith("unseen: current "));
  const share = native.fields.find((f) => f.field === "PaymentMethod").unseen.current;
  assert.equal(unseen, `unseen: current ${(100 * share).toFixed(1)}%`);
  await page.locator("#drift").screenshot({ path: join(shots, "drift-desktop.png") });
});

test("the held-out rows as they are: every field stable, as churn monitor says", async () => {
  const file = join(root, "data", "telco_test.csv");
  const native = JSON.parse(execFileSync(churn, ["monitor", "--model", defaultModel, "--data", file, "--json"], { encoding: "utf8" }));
  await drop(file);
  const shown = await page.$$eval("#drift-bars li", (lis) => lis.map((li) => [li.dataset.field, li.dataset.level, Number(li.dataset.psi)]));
  assert.deepEqual(
    shown,
    native.fields.map((f) => [f.field, f.level, f.psi]),
  );
  assert.ok(shown.every(([, level]) => level === "stable"));
});

test("a CSV without a model column, and a model file without a training profile: a clear message", async () => {
  const lacking = join(work, "lacking.csv");
  const [header, ...rows] = readFileSync(join(root, "data", "telco_test.csv"), "utf8")
    .trimEnd()
    .split("\n");
  const drop1 = header.split(",").indexOf("tenure");
  const without = (l) =>
    l
      .split(",")
      .filter((_, i) => i !== drop1)
      .join(",");
  writeFileSync(lacking, `${[header, ...rows.slice(0, 20)].map(without).join("\n")}\n`);
  await drop(lacking);
  assert.equal(await page.getAttribute("body", "data-drift-state"), "error");
  assert.match(await page.textContent("#drift-error"), /^Could not compare the file: lacking\.csv .*tenure/);
  assert.equal(await page.isHidden("#drift-result"), true);
  await page.setInputFiles("#model-file", join(root, "tests", "fixtures", "format_v1.bin"));
  await page.waitForFunction(() => /format_v1\.bin/.test(document.getElementById("model-status").textContent));
  await drop(join(root, "data", "telco_test.csv"));
  assert.match(await page.textContent("#drift-error"), /carries no training profile \(format version 3 or later is needed\)/);
});
