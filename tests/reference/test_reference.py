"""The reference scorer (churn_ref.py, written from docs/FORMAT.md only) against the golden files
and, when it is built, the `churn` binary.   Run:  python3 tests/reference/test_reference.py

Raw probabilities must agree bit for bit (no tolerance); the displayed probability, prediction,
risk level and the three explanations (why_k, why_k_value, why_k_contribution) must agree as
text (Rust prints shortest round-trip floats, so equal text means equal bits).
"""

import csv
import io
import os
import struct
import subprocess
import sys
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True                  # leave no __pycache__ in the checkout
import churn_ref as ref  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
CASES = os.path.join(FIXTURES, "golden_cases.csv")
TELCO_TEST = os.path.join(ROOT, "data", "telco_test.csv")
CHURN = os.environ.get("CHURN_BIN", os.path.join(ROOT, "target", "release", "churn"))
GOLDEN = [  # model, expected scores of golden_cases.csv
    ("golden.bin", "golden_expected.csv"),
    ("golden_gbt.bin", "golden_gbt_expected.csv"),
    ("format_v1.bin", "golden_expected.csv"),
    ("format_v2.bin", "golden_expected.csv"),
]


def load(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return ref.load_model(f.read())


def bits(text):
    return float(text).hex()


def check_row(test, row, scored, where):
    """One row of `churn score --raw --explain 3` output against the reference's result."""
    ident, raw, shown, prediction, risk, why = scored
    test.assertEqual(ident, row["customerID"], where)
    test.assertEqual(raw.hex(), bits(row["churn_probability_raw"]), where)
    test.assertEqual(ref.rust_display(raw), row["churn_probability_raw"], where)
    test.assertEqual((ref.rust_display(shown), prediction, risk),
                     (row["churn_probability"], row["churn_prediction"], row["risk_level"]), where)
    for k, (name, cell, contribution) in enumerate(why, start=1):
        test.assertEqual((name, cell, ref.rust_display(contribution)),
                         (row["why_%d" % k], row["why_%d_value" % k],
                          row["why_%d_contribution" % k]), where)


class Golden(unittest.TestCase):
    def test_golden_files(self):
        for model_name, expected_name in GOLDEN:
            with self.subTest(model=model_name):
                model = load(model_name)
                with open(os.path.join(FIXTURES, expected_name), newline="") as f:
                    expected = list(csv.DictReader(f))
                got = list(ref.score_csv(model, CASES, explain=3))
                self.assertEqual(len(got), len(expected))
                for row, scored in zip(expected, got):
                    check_row(self, row, scored, "%s row %s" % (model_name, row["customerID"]))
                print("  %-14s %d rows of golden_cases.csv bit-identical to %s"
                      % (model_name, len(got), expected_name), file=sys.stderr)

    def test_v1_and_v2_hold_the_same_forest(self):
        v1, v2 = load("format_v1.bin"), load("format_v2.bin")
        self.assertEqual((v1["version"], v2["version"]), (1, 2))
        self.assertEqual(v1["schema"], v2["schema"])
        self.assertEqual(v1["policy"], v2["policy"])
        self.assertEqual(v1["trees"], v2["trees"])
        self.assertEqual(len(v1["trees"]["tree_sizes"]), 30)
        self.assertEqual(len(v1["trees"]["split_feature"]), 3214)    # FORMAT.md section 9
        self.assertEqual(v2["card"]["params"][0], ("forest", v2["card"]["params"][0][1]))
        self.assertEqual(load("golden_gbt.bin")["card"]["params"][0][0], "boosted")
        # Version 3 adds the training rows' profile; the forest is the same.
        v3 = load("golden.bin")
        self.assertEqual((v3["version"], v3["trees"]), (3, v1["trees"]))
        self.assertIsNone(v2["profile"])
        p = v3["profile"]
        self.assertEqual(p["rows"], v3["card"]["rows"][1])
        self.assertEqual(sum(p["scores"]), p["rows"])
        self.assertEqual(sum(p["risk"]), p["rows"])
        for f in p["fields"]:
            self.assertEqual(sum(f["counts"]) + f["missing"] + f["unseen"], p["rows"])

    def test_header_errors(self):
        with open(os.path.join(FIXTURES, "golden.bin"), "rb") as f:
            good = f.read()
        payload = good[20:]

        def header(version=3, flags=0, n=len(payload), crc=zlib.crc32(payload)):
            return b"CHURNMDL" + struct.pack("<HHII", version, flags, n, crc)

        cases = [
            (b"", "truncated at byte 0: the 20-byte header is incomplete"),
            (b"XHURNMDL" + good[8:], 'bad magic bytes 58 48 55 52 4e 4d 44 4c, expected'),
            (header(version=4) + payload, "unsupported format version 4 (this build reads 1 to 3)"),
            (header(flags=1) + payload, "unsupported flags 0x0001 in header"),
            (header(crc=0) + payload, "checksum mismatch: header says 00000000"),
            (good + b"\0", "1 unexpected bytes after the payload"),
            (good[:-1], "truncated at byte %d: the header announces a %d-byte payload, the file "
                        "has %d" % (len(good) - 1, len(payload), len(payload) - 1)),
        ]
        for data, message in cases:
            with self.assertRaises(ref.ModelError) as e:
                ref.load_model(data)
            self.assertIn(message, str(e.exception))


class Encoding(unittest.TestCase):
    """Section 6 number rules that Python's float() alone would get wrong."""

    FIELD = {"name": "x", "kind": "numeric", "missing": 7.5}

    def test_numbers(self):
        ok = {" 5 ": 5.0, "5.": 5.0, ".5": 0.5, "+2.5E-2": 0.025, "-0": -0.0, "1e-400": 0.0,
              "\u00a05\u3000": 5.0, "": 7.5, " \t": 7.5}
        for text, value in ok.items():
            self.assertEqual(ref.encode_numeric(self.FIELD, text).hex(), value.hex(), text)
        finite = ["inf", "-Infinity", "NaN", "1e400"]
        refused = ["1_000", "1,000", "0x10", "abc", ".", "1e", "e5", "\u0661\u0662", "\x1c5"]
        for text in finite:
            self.assertRaisesRegex(ValueError, "expected a finite number", ref.encode_numeric,
                                   self.FIELD, text)
        for text in refused:
            self.assertRaisesRegex(ValueError, "expected a number", ref.encode_numeric,
                                   self.FIELD, text)

    def test_categories(self):
        field = {"name": "c", "kind": "categorical", "levels": ["b", " a", ""], "unknown": None}
        self.assertEqual(ref.encode_categorical(field, " a"), 1.0)     # exact match first
        self.assertEqual(ref.encode_categorical(field, " b "), 0.0)    # then the trimmed text
        self.assertEqual(ref.encode_categorical(field, ""), 2.0)
        self.assertRaisesRegex(ValueError, r'unknown category "z" \(expected one of: ,  a, b\)',
                               ref.encode_categorical, field, "z")
        self.assertEqual(ref.encode_categorical(dict(field, unknown=0), "z"), 0.0)

    def test_display(self):
        for v, s in [(1.0, "1"), (0.5, "0.5"), (1e-05, "0.00001"), (1.5e16, "15000000000000000"),
                     (0.037969446051418235, "0.037969446051418235"), (-0.0, "-0")]:
            self.assertEqual(ref.rust_display(v), s)
        self.assertEqual(ref.round_half_away(2.5), 3.0)
        self.assertEqual(ref.decide({"decimals": 3, "threshold": .5, "high": .7, "medium": .4},
                                    0.9995)[0], 1.0)


class AgainstBinary(unittest.TestCase):
    """Scores data/telco_test.csv with the built `churn` binary and the reference."""

    def setUp(self):
        if not os.access(CHURN, os.X_OK) and os.environ.get("CHURN_BUILT"):
            self.fail("%s is missing, and CHURN_BUILT says it was built" % CHURN)
        if not os.access(CHURN, os.X_OK):
            print("\n  SKIPPED: %s is not built; the binary comparison did not run" % CHURN,
                  file=sys.stderr)
            self.skipTest("churn binary not built")

    def churn_score(self, model, data):
        out = subprocess.run([CHURN, "score", "--model", model, "--data", data, "--out", "-",
                              "--raw", "--explain", "3"],
                             check=True, capture_output=True, text=True).stdout
        return list(csv.DictReader(io.StringIO(out)))

    def test_telco_test_bit_for_bit(self):
        for name in ("golden.bin", "golden_gbt.bin"):
            with self.subTest(model=name):
                path = os.path.join(FIXTURES, name)
                theirs = self.churn_score(path, TELCO_TEST)
                ours = list(ref.score_csv(load(name), TELCO_TEST, explain=3))
                self.assertEqual(len(ours), len(theirs))
                self.assertGreater(len(ours), 0)
                for row, scored in zip(theirs, ours):
                    check_row(self, row, scored, "%s row %s" % (name, row["customerID"]))
                print("  %-14s %d rows of telco_test.csv bit-identical to `churn score`"
                      % (name, len(ours)), file=sys.stderr)

    def test_edge_cells_accepted_and_refused_alike(self):
        """Section 6 rules on odd cells: same scores for accepted rows, same message otherwise."""
        with open(TELCO_TEST, newline="") as f:
            reader = csv.reader(f)
            header, base = next(reader), next(reader)
        numbers = [" abc ", "\u00a05\u3000", "\x855", "-.5", "5e+1", "00012", "1E0001", "1e-400",
                   " \t", "+nan", "1e400", "1_000", "\u0661\u0662", "\x1c5", "\u200b5", "\ufeff5",
                   "1e", ".", "a\tb", "a\rb", "a\x86b", "\x00z", "x" * 41]
        categories = ["One year\u00a0", " One year ", "one year", "", "\x1cOne year"]
        rows = []
        for column, cells in (("tenure", numbers), ("Contract", categories)):
            for cell in cells:
                row = list(base)
                row[header.index("customerID")] = "E%d" % len(rows)
                row[header.index(column)] = cell
                rows.append(row)
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "churn_ref_edge_%d.csv" % os.getpid())
        try:
            with open(path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows([header] + rows)
            run = subprocess.run([CHURN, "score", "--model", os.path.join(FIXTURES, "golden.bin"),
                                  "--data", path, "--out", "-", "--raw", "--on-error", "skip"],
                                 capture_output=True, text=True)
            ours = {}
            model = load("golden.bin")
            with open(path, newline="", encoding="utf-8") as f:
                for line, record in enumerate(csv.DictReader(f), start=2):
                    try:
                        x = ref.encode_row(model["schema"], record)
                        ours[record["customerID"]] = ref.rust_display(ref.probability(model, x))
                    except ValueError as e:
                        ours[line] = str(e)
        finally:
            os.remove(path)
        theirs = {r["customerID"]: r["churn_probability_raw"]
                  for r in csv.DictReader(io.StringIO(run.stdout))}
        for err in run.stderr.splitlines():     # "skipped: PATH: line N: message" (first 20)
            if err.startswith("skipped: ") and ": line " in err:
                line, message = err.split(": line ", 1)[1].split(": ", 1)
                theirs[int(line)] = message
        self.assertEqual({k: v for k, v in ours.items() if isinstance(k, str)},
                         {k: v for k, v in theirs.items() if isinstance(k, str)})
        refused = [line for line in theirs if isinstance(line, int)]
        self.assertGreater(len(refused), 10)
        for line in refused:
            self.assertEqual(ours.get(line), theirs[line], "line %d" % line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
