// The npm package as a new project meets it: `npm pack` of www/pkg installed into a fresh project
// (build/pkg-consumer/), then
// - the tarball's file list;
// - its TypeScript types under `tsc --strict` for targets es2020, es2022 and esnext and module
//   resolution node16 and bundler: test/types/good.mts (every documented field, no `any`) must
//   compile, and every wrong use in test/types/bad.mts must be an error;
// - the types are the contract: what the core returns for the golden models, written out as
//   literals of the declared types, must compile (a missing, extra or mistyped key fails);
// - each import form in Node (the default `init` from "churn-wasm", "churn-wasm/web" before and
//   after initSync), and the errors for a forgotten init() and for a path instead of bytes.
// The browser form runs in page.test.mjs (Chromium) and the Worker form in worker.test.mjs (workerd).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { ChurnModel } from "../pkg/node.js";
import { cases, goldens } from "./golden.mjs";

const www = new URL("../", import.meta.url).pathname;
const dir = new URL("../../build/pkg-consumer/", import.meta.url).pathname;
const installed = `${dir}node_modules/churn-wasm/`;
const tsc = `${www}node_modules/.bin/tsc`;
let packed;

before(() => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(installed, { recursive: true });
  packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: `${www}pkg`, stdio: ["ignore", "pipe", "ignore"] }),
  )[0];
  execFileSync("tar", ["-xzf", `${dir}${packed.filename}`, "-C", installed, "--strip-components=1"]);
  writeFileSync(`${dir}package.json`, JSON.stringify({ name: "consumer", private: true, type: "module" }));
  for (const f of readdirSync(new URL("types/", import.meta.url))) copyFileSync(new URL(`types/${f}`, import.meta.url), `${dir}${f}`);
});

/** Runs tsc in the consumer project; resolves with its output ("" when it compiles). */
function compile(files, { target = "es2022", module = "node16", moduleResolution = "node16" } = {}) {
  const args = ["--noEmit", "--strict", "--target", target, "--module", module, "--moduleResolution", moduleResolution, ...files];
  try {
    execFileSync(tsc, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    return "";
  } catch (e) {
    return `${e.stdout}${e.stderr}` || String(e);
  }
}

test("npm pack: the tarball holds the package and nothing else", () => {
  const files = packed.files.map((f) => f.path).sort();
  assert.deepEqual(
    files.map((f) => f.replace(/^snippets\/inference-wasm-[0-9a-f]+\//, "snippets/HASH/")),
    [
      "LICENSE-APACHE",
      "LICENSE-MIT",
      "README.md",
      "churn.d.ts",
      "churn.js",
      "churn_bg.wasm",
      "churn_bg.wasm.d.ts",
      "node.d.ts",
      "node.js",
      "package.json",
      "snippets/HASH/inline0.js",
    ],
  );
  assert.equal(packed.name, "churn-wasm");
  const manifest = JSON.parse(readFileSync(`${installed}package.json`, "utf8"));
  assert.equal(manifest.license, "MIT OR Apache-2.0");
  assert.equal(manifest.exports["./churn_bg.wasm"].types, "./churn_bg.wasm.d.ts");
  assert.match(readFileSync(`${installed}README.md`, "utf8"), /import init, \{ ChurnModel \} from "churn-wasm"/);
  assert.match(readFileSync(`${installed}LICENSE-APACHE`, "utf8"), /Apache License\s+Version 2\.0/);
});

for (const target of ["es2020", "es2022", "esnext"]) {
  for (const [module, moduleResolution] of [
    ["node16", "node16"],
    ["esnext", "bundler"],
  ]) {
    test(`tsc --strict --target ${target} --moduleResolution ${moduleResolution}: documented uses compile, wrong ones do not`, () => {
      const opts = { target, module, moduleResolution };
      assert.equal(compile(["good.mts"], opts), "");
      // Every wrong use is marked @ts-expect-error: a line that compiles leaves its directive unused (TS2578).
      assert.equal(compile(["bad.mts"], opts), "");
      const lines = readFileSync(`${dir}bad.mts`, "utf8").split("\n");
      const directive = /^\s*\/\/ @ts-expect-error/;
      const marked = lines.filter((l) => directive.test(l)).length;
      assert.ok(marked >= 20, `${marked} wrong uses`);
      // Without the markers, each of those lines is an error.
      writeFileSync(`${dir}bad-unmarked.mts`, lines.map((l) => (directive.test(l) ? "" : l)).join("\n"));
      const errors = compile(["bad-unmarked.mts"], opts).match(/^bad-unmarked\.mts\(\d+,/gm) ?? [];
      assert.equal(new Set(errors).size, marked, compile(["bad-unmarked.mts"], opts));
    });
  }
}

/** `value` as a TypeScript literal (a Float64Array as a constructor call). */
function literal(value) {
  if (value === null) return "null";
  if (value instanceof Float64Array) return `new Float64Array([${Array.from(value, literal).join(", ")}])`;
  if (Array.isArray(value)) return `[${value.map(literal).join(", ")}]`;
  switch (typeof value) {
    case "number":
      assert.ok(Number.isFinite(value), `a non-finite number reached JS: ${value}`);
      return String(value);
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "object":
      return `{ ${Object.entries(value)
        .map(([k, v]) => `${JSON.stringify(k)}: ${literal(v)}`)
        .join(", ")} }`;
    default:
      assert.fail(`not a JSON value: ${typeof value}`);
  }
}

test("what the core returns is exactly the declared types (each golden model, every result)", () => {
  const decls = [];
  const put = (type, value) => decls.push(`export const v${decls.length}: ${type} = ${literal(value)};`);
  const models = [
    ...goldens.map((g) => g.bytes),
    readFileSync(new URL("../../tests/fixtures/format_v1.bin", import.meta.url)),
    readFileSync(new URL("../worker/model.bin", import.meta.url)),
  ];
  for (const bytes of models) {
    const m = new ChurnModel(bytes);
    put("ModelInfo", m.info());
    put("Schema", m.schema());
    put("Prediction", m.predict(cases[0]));
    put("Explanation", m.explain(cases[0], 100));
    const batch = m.predictBatch([cases[1], { ...cases[2], Contract: "Weekly", tenure: "abc" }, 7, {}]);
    for (const r of batch) put("error" in r ? "RowError" : "Prediction", r);
    assert.equal(batch.filter((r) => "error" in r).length, 3);
    try {
      m.predict({ ...cases[0], tenure: "abc" });
      assert.fail("should throw");
    } catch (e) {
      put('InputError["details"]', e.details);
    }
    const p = Float64Array.from(cases, (c) => m.probability(c));
    const labels = cases.map((c, i) => (i === 3 ? "maybe" : c.Churn));
    put("Evaluation", m.evaluate(p, labels));
    assert.equal(m.evaluate(Float64Array.of(0.5), ["perhaps"]), null);
    // A CSV without the id column, with the target, and a bad row.
    const header = Object.keys(cases[0]).filter((k) => k !== "customerID");
    const scorer = m.csvScorer(header);
    const records = cases
      .slice(0, 20)
      .map((c, i) => ({ fields: header.map((h) => (i === 4 && h === "tenure" ? "abc" : c[h])), line: i + 2 }));
    const chunk = scorer.score(records, 0);
    assert.equal(chunk.errors.length, 1);
    put("CsvChunk", chunk);
    put("Evaluation", scorer.evaluation());
    put("string", scorer.missingId);
    scorer.free();
    // Profiles (a file without a training profile has none).
    put("ProfileJSON | null", m.referenceProfile());
    if (m.referenceProfile() !== null) {
      const profile = m.newProfile();
      for (const c of [...cases, { ...cases[0], Contract: "Weekly" }]) profile.add(c);
      put("ProfileJSON", profile.toJSON());
      put("Drift", profile.drift());
    }
  }
  const types = "BatchResult, CsvChunk, Drift, Evaluation, Explanation, InputError, ModelInfo, Prediction, ProfileJSON, RowError, Schema";
  writeFileSync(`${dir}conform.mts`, `import type { ${types} } from "churn-wasm";\n${decls.join("\n")}\n`);
  assert.equal(compile(["conform.mts"]), "");
  // The check bites: one key too many, or a number where a string belongs, does not compile.
  const info = new ChurnModel(goldens[0].bytes).info();
  writeFileSync(
    `${dir}conform-bad.mts`,
    `import type { ModelInfo } from "churn-wasm";\nexport const a: ModelInfo = ${literal({ ...info, extra: 1 })};\n`,
  );
  assert.match(compile(["conform-bad.mts"]), /'"extra"' does not exist in type 'ModelInfo'/);
  writeFileSync(
    `${dir}conform-bad.mts`,
    `import type { ModelInfo } from "churn-wasm";\nexport const a: ModelInfo = ${literal({ ...info, version: 2 })};\n`,
  );
  assert.match(compile(["conform-bad.mts"]), /Type 'number' is not assignable to type 'string'/);
});

/** Runs an ES module in Node in the consumer project (imports resolve to the installed package). */
function node(code) {
  try {
    return {
      out: execFileSync(process.execPath, ["--input-type=module", "-e", code], {
        cwd: dir,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      }),
    };
  } catch (e) {
    return { out: e.stdout, err: e.stderr };
  }
}

const MODEL = JSON.stringify(goldens[0].file);
const CUSTOMER = JSON.stringify(cases[0]);

test("Node: the browser's import line works too (default init resolves at once)", () => {
  const r = node(`
    import { readFileSync } from "node:fs";
    import init, { ChurnModel } from "churn-wasm";
    await init();
    await init();
    const model = new ChurnModel(readFileSync(${MODEL}));
    console.log(JSON.stringify(model.predict(${CUSTOMER})));`);
  assert.equal(r.err, undefined);
  assert.deepEqual(JSON.parse(r.out), new ChurnModel(goldens[0].bytes).predict(cases[0]));
});

test('Node: "churn-wasm/web" before init throws an Error naming init() and initSync; after initSync it scores', () => {
  const r = node(`
    import { readFileSync } from "node:fs";
    import { ChurnModel, formatNumber, initSync } from "churn-wasm/web";
    const bytes = readFileSync(${MODEL});
    const errors = [];
    for (const call of [() => new ChurnModel(bytes), () => ChurnModel.fromBytes(bytes), () => formatNumber(1)]) {
      try { call(); errors.push("no error"); } catch (e) { errors.push(e instanceof Error ? e.message : "not an Error"); }
    }
    initSync({ module: readFileSync(new URL(import.meta.resolve("churn-wasm/churn_bg.wasm"))) });
    const model = new ChurnModel(bytes);
    console.log(JSON.stringify({ errors, p: model.probability(${CUSTOMER}), n: formatNumber(1e-7) }));`);
  assert.equal(r.err, undefined);
  const { errors, p, n } = JSON.parse(r.out);
  assert.equal(errors.length, 3);
  for (const e of errors) assert.match(e, /^churn-wasm is not initialised: call `await init\(\)` .* or `initSync\(\{ module \}\)` first/);
  assert.ok(Object.is(p, new ChurnModel(goldens[0].bytes).probability(cases[0])));
  assert.equal(n, "0.0000001");
});

test("a path or other non-bytes given to the constructor says bytes are expected and how to read them", () => {
  for (const [bad, got] of [
    ["model.bin", "a string"],
    [42, "a number"],
    [{ length: 3 }, "an object"],
    [undefined, "undefined"],
  ]) {
    for (const load of [(b) => new ChurnModel(b), (b) => ChurnModel.fromBytes(b)]) {
      assert.throws(() => load(bad), {
        message: `expected the model file's bytes (Uint8Array), got ${got}: read them with fs.readFileSync(path) in Node or (await fetch(url)).arrayBuffer()`,
      });
    }
  }
  // Uint8Array (and Node's Buffer), ArrayBuffer and number arrays all load the same model.
  const b = goldens[0].bytes;
  for (const bytes of [b, Buffer.from(b), b.buffer.slice(b.byteOffset, b.byteOffset + b.length), Array.from(b)]) {
    assert.ok(Object.is(new ChurnModel(bytes).probability(cases[0]), new ChurnModel(b).probability(cases[0])));
  }
});
