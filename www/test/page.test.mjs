// The demo page in headless Chromium (Debian's /usr/bin/chromium via playwright-core), served
// from www/dist by a static server on 127.0.0.1 that this file starts and stops. Expected values
// come from the native CLI (`churn score`, `churn evaluate`) or its committed golden output,
// never from the page's own code. Needs `npm run build` (the site) and target/release/churn
// (scripts/test.sh builds both first).
import { test, before, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { serve, browser, root, scratch } from "../site/e2e/harness.mjs";
import { readCsv } from "../site/src/csv.js";

const churn = join(root, "target", "release", "churn");
const fixtures = join(root, "tests", "fixtures");
const telcoTest = join(root, "data", "telco_test.csv");
const defaultModel = join(root, "www", "worker", "model.bin");
// The committed screenshots change only when asked (UPDATE_SCREENSHOTS=1); otherwise build/.
const shots = process.env.UPDATE_SCREENSHOTS === "1" ? join(root, "docs", "screenshots") : join(root, "build", "screenshots");
const work = join(scratch, "files");

let server, ctx, page;

/** Runs the native CLI; returns {stdout, stderr}. */
function cli(...args) {
  if (!existsSync(churn)) throw new Error(`${churn} is missing: cargo build --release -p trainer`);
  const stderr = join(work, "cli.stderr");
  const stdout = execFileSync("bash", ["-c", `"$0" "$@" 2>"${stderr}"`, churn, ...args], { encoding: "utf8" });
  return { stdout, stderr: readFileSync(stderr, "utf8") };
}

/** A CSV file as objects keyed by header (read with the same rules as `churn`). */
function csvObjects(path) {
  const [head, ...rows] = [...readCsv(readFileSync(path, "utf8"))].map((r) => r.fields);
  return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

async function open() {
  await page.goto(server.url);
  await page.waitForSelector("body[data-first-prediction-ms]", { timeout: 20000 });
}

async function scoreCsv(path) {
  await page.setInputFiles("#csv-file", path);
  await page.waitForSelector("body[data-batch-state=done]", { timeout: 30000 });
}

async function download() {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  return readFileSync(await dl.path());
}

before(async () => {
  mkdirSync(work, { recursive: true });
  server = await serve();
  ctx = await browser();
  page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
});

// Every test starts from a freshly loaded page with the bundled model, so none depends on what
// an earlier one left behind (run any one alone with `node --test --test-name-pattern=...`).
beforeEach(open);

after(async () => {
  await ctx?.close();
  await server?.close();
});

test("golden customers typed into the form show churn score's probability, risk and top factors", async () => {
  await page.setInputFiles("#model-file", join(fixtures, "golden.bin"));
  await page.waitForFunction(() => document.getElementById("result-version").textContent === "golden-1");
  const schema = await page.evaluate(() =>
    [...document.querySelectorAll("#fields input, #fields select")].map((e) => ({
      name: e.dataset.field,
      id: e.id,
      select: e.tagName === "SELECT",
      levels: e.tagName === "SELECT" ? [...e.options].map((o) => o.value) : null,
    })),
  );
  assert.equal(schema.length, 19);
  const cases = csvObjects(join(fixtures, "golden_cases.csv"));
  const expected = new Map(csvObjects(join(fixtures, "golden_expected.csv")).map((r) => [r.customerID, r]));
  // A select can only hold the model's levels: take cases whose categories are exact levels
  // (the padded-category edge case is covered by the Node tests).
  const usable = cases.filter((c) => schema.every((f) => !f.select || f.levels.includes(c[f.name])));
  const picked = [...usable.slice(0, 6), ...usable.filter((c) => c.customerID.startsWith("EDGE-"))];
  assert.ok(picked.length >= 12, `only ${picked.length} golden cases usable`);
  const risks = new Set();
  for (const c of picked) {
    for (const f of schema) {
      if (f.select) await page.selectOption(`#${f.id}`, c[f.name]);
      else await page.fill(`#${f.id}`, c[f.name]);
    }
    const want = expected.get(c.customerID);
    const got = await page.evaluate(() => ({
      p: document.getElementById("result-probability").textContent,
      raw: document.getElementById("result").dataset.raw,
      risk: document.getElementById("result-risk").dataset.risk,
      yes: document.getElementById("result-prediction").textContent,
      why: [...document.querySelectorAll("#why li")].map((li) => ({ ...li.dataset })),
    }));
    const id = c.customerID;
    assert.equal(got.p, want.churn_probability, `${id}: probability`);
    assert.equal(got.raw, want.churn_probability_raw, `${id}: raw probability, bit for bit`);
    assert.equal(got.risk, want.risk_level, `${id}: risk`);
    assert.equal(got.yes, want.churn_prediction, `${id}: prediction`);
    assert.equal(got.why.length, 5, `${id}: the why chart shows 5 factors`);
    for (let k = 1; k <= 3; k++) {
      const bar = got.why[k - 1];
      assert.equal(bar.field, want[`why_${k}`], `${id}: factor ${k}`);
      assert.equal(bar.value, want[`why_${k}_value`], `${id}: factor ${k} value`);
      assert.equal(bar.contribution, want[`why_${k}_contribution`], `${id}: factor ${k} contribution`);
    }
    risks.add(got.risk);
  }
  assert.ok(risks.size >= 2, "the picked cases cover more than one risk level");
});

test("a bad field value shows its error next to that field, and fixing it scores again", async () => {
  const k = await page.evaluate(() =>
    [...document.querySelectorAll("#fields input, #fields select")].findIndex((e) => e.dataset.field === "tenure"),
  );
  await page.fill(`#f-${k}`, "abc");
  assert.equal(await page.textContent(`#e-${k}`), 'expected a number, got "abc"');
  assert.equal(await page.getAttribute(`#f-${k}`, "aria-invalid"), "true");
  assert.equal(await page.textContent("#result-probability"), "–");
  assert.match(await page.textContent("#result-problem"), /tenure/);
  await page.fill(`#f-${k}`, "12");
  assert.equal(await page.textContent(`#e-${k}`), "");
  assert.match(await page.textContent("#result-probability"), /^0(\.\d+)?$|^1$/);
});

test("a corrupt or foreign model file gives a clear message and the page keeps its model", async () => {
  await page.setInputFiles("#model-file", join(fixtures, "golden.bin"));
  await page.waitForFunction(() => document.getElementById("result-version").textContent === "golden-1");
  const bytes = readFileSync(join(fixtures, "golden.bin"));
  bytes[bytes.length - 10] ^= 0xff;
  await page.setInputFiles("#model-file", { name: "corrupt.bin", mimeType: "application/octet-stream", buffer: bytes });
  await page.waitForSelector("#model-error:not([hidden])");
  const msg = await page.textContent("#model-error");
  assert.match(msg, /^Could not load “corrupt\.bin”: checksum mismatch: .*\(file corrupted\)\. The page keeps using/);
  await page.setInputFiles("#model-file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello, not a model") });
  await page.waitForFunction(() => document.getElementById("model-error").textContent.includes("notes.txt"));
  assert.match(await page.textContent("#model-error"), /not a churn model file \(bad magic bytes/);
  assert.equal(await page.textContent("#result-version"), "golden-1", "the loaded model stays in use");
  assert.notEqual(await page.textContent("#result-probability"), "–");
});

test("the Telco held-out CSV: row count, risk counts, metrics and the downloaded CSV equal the native CLI", async () => {
  const want = join(work, "telco_test.scored.csv");
  cli("score", "--model", defaultModel, "--data", telcoTest, "--out", want);
  const native = readFileSync(want);
  const nativeRows = csvObjects(want);
  await scoreCsv(telcoTest);
  const summary = await page.evaluate(() => ({ ...document.getElementById("batch-summary").dataset }));
  assert.equal(Number(summary.scored), nativeRows.length);
  assert.equal(Number(summary.errors), 0);
  for (const risk of ["HIGH", "MEDIUM", "LOW"]) {
    const n = nativeRows.filter((r) => r.risk_level === risk).length;
    assert.equal(Number(await page.getAttribute(`#risk-counts [data-risk=${risk}]`, "data-count")), n, risk);
  }
  const got = await download();
  assert.ok(got.equals(native), "downloaded CSV equals `churn score` byte for byte");
  // The file has the target column: the page shows the core's metrics, as `churn evaluate` does.
  const ev = JSON.parse(cli("evaluate", "--model", defaultModel, "--data", telcoTest, "--json").stdout);
  assert.equal(await page.textContent('#metrics td[data-key="roc_auc"]'), ev.roc_auc.toFixed(4));
  assert.equal(await page.textContent('#metrics td[data-key="log_loss"]'), ev.log_loss.toFixed(4));
  // The table opens risk first, and a header is a keyboard-operable sort button.
  const first = await page.$$eval("#scored-table tbody tr td:nth-child(5)", (tds) => tds.map((t) => t.textContent));
  assert.equal(first[0], "HIGH risk");
  // "Why?" on a table row puts that customer into the form: same score there, with its factors.
  const firstId = await page.textContent("#scored-table tbody tr:first-child td:nth-child(2)");
  const native1 = nativeRows.find((r) => r.customerID === firstId);
  await page.click("#scored-table tbody tr:first-child .why-row");
  await page.waitForFunction((p) => document.getElementById("result-probability").textContent === p, native1.churn_probability);
  assert.equal(await page.getAttribute("#result-risk", "data-risk"), native1.risk_level);
  assert.equal(await page.$$eval("#why li", (lis) => lis.length), 5);
  await page.focus("#scored-table thead th:nth-child(3) button");
  await page.keyboard.press("Enter");
  assert.equal(await page.getAttribute("#scored-table thead th:nth-child(3)", "aria-sort"), "ascending");
  const probs = await page.$$eval("#scored-table tbody tr td:nth-child(3)", (tds) => tds.map((t) => Number(t.textContent)));
  const top = Math.max(...nativeRows.map((r) => Number(r.churn_probability)));
  assert.equal(probs[0], top, "sorted by probability, highest first");
});

test("rows with errors are listed with row, line and reason; the rest score as `churn score --on-error skip`", async () => {
  // Bad values, a short row, blank lines, CRLF, a quoted id with a comma and quotes.
  const lines = readFileSync(telcoTest, "utf8").trimEnd().split("\n").slice(0, 41);
  const head = lines[0].split(",");
  const set = (line, name, value) => {
    const f = line.split(",");
    f[head.indexOf(name)] = value;
    return f.join(",");
  };
  lines[3] = set(lines[3], "tenure", "abc");
  lines[7] = set(set(lines[7], "Contract", "Weekly"), "MonthlyCharges", "");
  lines[9] = lines[9].split(",").slice(0, -2).join(",");
  lines[12] = `"ID, ""quoted"""${lines[12].slice(lines[12].indexOf(","))}`;
  lines[20] = `${lines[20]}\r`;
  lines.splice(25, 0, "", "");
  const bad = join(work, "bad rows.csv");
  writeFileSync(bad, lines.join("\n") + "\n");
  const want = join(work, "bad.scored.csv");
  const { stderr } = cli("score", "--model", defaultModel, "--data", bad, "--out", want, "--on-error", "skip");
  const nativeErrors = stderr
    .split("\n")
    .filter((l) => l.startsWith("skipped: "))
    .map((l) => l.slice(`skipped: ${bad}: `.length));
  assert.ok(nativeErrors.length >= 3, stderr);
  await scoreCsv(bad);
  const listed = await page.$$eval("#batch-errors li", (lis) => lis.map((li) => ({ ...li.dataset, text: li.textContent })));
  assert.deepEqual(
    listed.map((e) => `line ${e.line}: ${e.message}`),
    nativeErrors,
  );
  assert.match(listed[0].text, /^Row 3 \(line 4, customerID [^)]+\): tenure: expected a number, got "abc"$/);
  assert.ok((await download()).equals(readFileSync(want)), "scored rows equal `churn score --on-error skip`");

  // Without the id column the CLI numbers rows; dropped on the page (drag and drop), not picked.
  const noId = join(work, "no-id.csv");
  writeFileSync(noId, lines.map((l) => l.replace(/^("[^"]*(""[^"]*)*"|[^,\r]*),/, "")).join("\n"));
  const wantNoId = join(work, "no-id.scored.csv");
  cli("score", "--model", defaultModel, "--data", noId, "--out", wantNoId, "--on-error", "skip");
  const data = readFileSync(noId).toString("base64");
  await page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "no-id.csv", { type: "text/csv" }));
    document.getElementById("csv-drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, data);
  await page.waitForFunction(() => document.getElementById("batch-summary").textContent.startsWith("no-id.csv"));
  await page.waitForSelector("body[data-batch-state=done]");
  const gotNoId = await download();
  assert.ok(gotNoId.toString().startsWith("row,churn_probability,"));
  assert.ok(gotNoId.equals(readFileSync(wantNoId)), "row-numbered output equals the CLI's");

  // A file without columns the model needs is refused with their names, as the CLI does.
  const lacking = join(work, "lacking.csv");
  writeFileSync(
    lacking,
    readFileSync(telcoTest, "utf8")
      .split("\n")
      .slice(0, 5)
      .map((l) => l.split(",").slice(0, -3).join(","))
      .join("\n"),
  );
  let cliError = "";
  try {
    cli("score", "--model", defaultModel, "--data", lacking, "--out", join(work, "lacking.out.csv"));
  } catch {
    cliError = readFileSync(join(work, "cli.stderr"), "utf8");
  }
  assert.match(cliError, /lacks column\(s\) the model needs: MonthlyCharges, TotalCharges/);
  await page.setInputFiles("#csv-file", lacking);
  await page.waitForSelector("#batch-error:not([hidden])");
  assert.equal(
    await page.textContent("#batch-error"),
    "Could not score the file: lacking.csv lacks column(s) the model needs: MonthlyCharges, TotalCharges",
  );
  assert.equal(await page.isHidden("#batch-result"), true, "no stale results next to the error");
});

test("accessible and usable at phone width; screenshots at desktop and phone width", async () => {
  await scoreCsv(telcoTest);
  const unlabelled = await page.$$eval("input, select", (els) => els.filter((e) => !e.labels?.length).map((e) => e.id || e.name));
  assert.deepEqual(unlabelled, [], "every control has a label");
  // Text contrast (WCAG AA, 4.5:1) of badges, hints, errors, table and chart labels, as rendered.
  await page.fill("#f-4", "abc"); // shows a field error and the problem box
  const low = await page.evaluate(() => {
    const rgb = (c) => c.match(/[\d.]+/g).map(Number);
    const lum = ([r, g, b]) =>
      [r, g, b]
        .map((c) => c / 255)
        .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
        .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length < 4 || c[3] > 0) return c;
      }
      return [255, 255, 255];
    };
    const sel = ".badge, .hint, .field-error, .alert, .small, .bar-label, .bar-value, th, td, label, .lede, figcaption, .button";
    const checked = [...document.querySelectorAll(sel)]
      .filter((e) => e.offsetParent && e.textContent.trim())
      .map((e) => {
        const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(background(e))].sort((x, y) => y - x);
        return { what: `${e.tagName}.${e.className} "${e.textContent.trim().slice(0, 20)}"`, ratio: (a + 0.05) / (b + 0.05) };
      });
    return { checked: checked.length, low: checked.filter((x) => x.ratio < 4.5) };
  });
  assert.ok(low.checked > 100, `only ${low.checked} text elements checked`);
  assert.deepEqual(low.low, [], "text contrast below 4.5:1");
  await page.fill("#f-4", "12");
  mkdirSync(shots, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: join(shots, "page-desktop.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at 390 px (page is ${overflow} px too wide)`);
  await page.screenshot({ path: join(shots, "page-phone.png"), fullPage: false });
  await page.evaluate(() => document.getElementById("batch").scrollIntoView());
  await page.screenshot({ path: join(shots, "page-phone-batch.png"), fullPage: false });
  await page.setViewportSize({ width: 1280, height: 900 });
});
