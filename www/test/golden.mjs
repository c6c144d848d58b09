// Golden cases shared by the JS test suites: the fixture model, the cases as objects (every
// cell a string, as read from CSV) and the native `churn score --raw` output for them.
import { readFileSync } from "node:fs";

const fixtures = new URL("../../tests/fixtures/", import.meta.url);

/** Minimal CSV reader for the fixture files (no quoted commas in them). */
function readCsv(name) {
  const lines = readFileSync(new URL(name, fixtures), "utf8").trimEnd().split("\n");
  const header = lines[0].split(",");
  return lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i], v])));
}

export const modelBytes = new Uint8Array(readFileSync(new URL("golden.bin", fixtures)));
export const cases = readCsv("golden_cases.csv");
export const expected = readCsv("golden_expected.csv");

/** Every golden model (one per model kind), with the native output for the same cases. */
export const goldens = [
  { name: "random forest", file: new URL("golden.bin", fixtures).pathname, version: "golden-1", expected },
  {
    name: "gradient-boosted trees",
    file: new URL("golden_gbt.bin", fixtures).pathname,
    version: "golden-gbt-1",
    expected: readCsv("golden_gbt_expected.csv"),
  },
].map((g) => ({ ...g, bytes: new Uint8Array(readFileSync(g.file)) }));
