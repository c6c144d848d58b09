"""Independent reference scorer for churn model files (an outside witness).

Written from docs/FORMAT.md alone -- not from the Rust decoder in inference-wasm/ -- in
pure Python 3 with the standard library only. It decodes a model file (format version 1, 2 or 3),
encodes CSV rows as FORMAT.md section 6 says, walks the trees (section 5) and applies the risk
policy (section 7). If it and the Rust core ever disagree, either the core or FORMAT.md is wrong.

Boosted models need `exp` exactly as the core computes it: FORMAT.md section 5 gives the
algorithm (fdlibm's e_exp.c, which the Rust `libm` crate ports); `fdlibm_exp` follows it step by
step, so boosted probabilities are bit-identical with no tolerance. (Python's math.exp is glibc's,
a different algorithm that differs in the last bit for about 1 argument in 10.)

Header errors carry FORMAT.md's messages; payload and tree checks are all made, but their
messages are shortened.

CLI:  python3 churn_ref.py MODEL.bin DATA.csv [--explain K]   -> CSV on stdout, the columns of
      `churn score --raw [--explain K]`: [id,] churn_probability, churn_prediction, risk_level,
      churn_probability_raw [, why_k, why_k_value, why_k_contribution ...]
"""

import csv
import math
import re
import struct
import sys
import zlib

MAGIC = b"CHURNMDL"
HEADER_LEN = 20
MAX_PAYLOAD = 64 << 20


class ModelError(ValueError):
    pass


# ---------------------------------------------------------------- bincode primitives (section 3)

class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if n > len(self.data) - self.pos:
            raise ModelError("truncated: the payload ends in the middle of a value")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self):
        return self.take(1)[0]

    def varint(self, bits):
        b = self.u8()
        if b <= 250:
            return b
        widths = {251: 16, 252: 32, 253: 64}
        if b not in widths or widths[b] > bits:
            raise ModelError("malformed payload: an integer has an invalid length prefix")
        return int.from_bytes(self.take(widths[b] // 8), "little")

    u16 = lambda self: self.varint(16)
    u32 = lambda self: self.varint(32)
    u64 = lambda self: self.varint(64)

    def f64(self):
        return struct.unpack("<d", self.take(8))[0]

    def f32(self):
        return struct.unpack("<f", self.take(4))[0]

    def bool(self):
        b = self.u8()
        if b > 1:
            raise ModelError("malformed payload: invalid boolean byte %d" % b)
        return b == 1

    def string(self):
        try:
            return self.take(self.length(1)).decode("utf-8")
        except UnicodeDecodeError:
            raise ModelError("malformed payload: a string is not valid UTF-8")

    def length(self, min_elem_bytes):
        """A Vec/String length; refused if it cannot fit in the bytes that remain."""
        n = self.u64()
        if n * min_elem_bytes > len(self.data) - self.pos:
            raise ModelError("truncated: the payload ends in the middle of a value")
        return n

    def vec(self, read, min_elem_bytes=1):
        return [read() for _ in range(self.length(min_elem_bytes))]

    def option(self, read):
        tag = self.u8()
        if tag > 1:
            raise ModelError("malformed payload: invalid tag %d for Option" % tag)
        return read() if tag else None

    def enum(self, name, n_variants):
        tag = self.u32()
        if tag >= n_variants:
            raise ModelError("malformed payload: invalid tag %d for %s" % (tag, name))
        return tag


# ---------------------------------------------------------------- payload structures (section 4)

def read_field(r):
    name = r.string()
    if r.enum("FieldKind", 2) == 0:
        missing = r.f64() if r.enum("Missing", 2) == 1 else None   # None = Missing::Error
        lo, hi, integer = r.f64(), r.f64(), r.bool()
        return {"name": name, "kind": "numeric", "missing": missing, "min": lo, "max": hi,
                "integer": integer}
    levels = r.vec(r.string)
    unknown = r.u32() if r.enum("Unknown", 2) == 1 else None       # None = Unknown::Error
    return {"name": name, "kind": "categorical", "levels": levels, "unknown": unknown}


def read_schema(r):
    fields = r.vec(lambda: read_field(r))
    id_column = r.option(r.string)
    target = (r.string(), r.string(), r.string())
    return {"fields": fields, "id_column": id_column, "target": target}


def read_trees(r, boosted):
    t = {"boosted": boosted, "n_features": r.u32()}
    if boosted:
        t["base_score"] = r.f64()
    t["tree_sizes"] = r.vec(r.u32)
    t["split_feature"] = r.vec(r.u16)
    t["split_threshold"] = r.vec(r.u32)
    t["right_offset"] = r.vec(r.u32)
    if boosted:
        t["values"] = r.vec(r.f64, 8)
    else:
        num, den = r.vec(r.u32), r.vec(r.u32)
        if len(num) != len(den) or 0 in den or any(a > b for a, b in zip(num, den)):
            raise ModelError("invalid model: forest: node values are not ratios in [0, 1]")
        # Section 5, Layout: an IEEE f64 division of the two integers.
        t["values"] = [float(a) / float(b) for a, b in zip(num, den)]
    t["thresholds"] = r.vec(lambda: r.vec(r.f64, 8))
    return t


def read_kind_params(r):
    if r.enum("KindParams", 2) == 0:
        return ("forest", [r.u32() for _ in range(5)])
    return ("boosted", [r.u32(), r.f64(), r.u32(), r.u32(), r.u32(), r.f64()])


def read_card(r, version):
    card = {k: r.string() for k in ("name", "version", "created_at", "trainer", "data_sha256")}
    card["rows"] = (r.u64(), r.u64(), r.u64())
    if version == 1:
        card["params"] = (("forest", [r.u32() for _ in range(5)]), r.u64(), r.f64())
    else:
        card["params"] = (read_kind_params(r), r.u64(), r.f64())
    card["test_metrics"] = r.option(
        lambda: [r.u64()] + [r.f64() for _ in range(8)] + [r.u64() for _ in range(4)])
    card["importances"] = r.vec(r.f64, 8)
    card["roc"] = r.vec(lambda: (r.f32(), r.f32(), r.f32()), 12)
    card["selection"] = [] if version == 1 else r.vec(
        lambda: (read_kind_params(r), r.f64(), r.f64(), r.u32(), r.u64(), r.f64()))
    return card


def read_profile(r):
    """Section 4, Profile (format version 3): the training rows' counts, for drift."""
    rows, invalid_rows = r.u64(), r.u64()
    fields = r.vec(lambda: {"edges": r.vec(r.f64, 8), "counts": r.vec(r.u64), "missing": r.u64(),
                            "unseen": r.u64(), "invalid": r.u64()})
    scores = r.vec(r.u64)
    risk = [r.u64() for _ in range(3)]
    watch, drifted = r.f64(), r.f64()
    return {"rows": rows, "invalid_rows": invalid_rows, "fields": fields, "scores": scores,
            "risk": risk, "watch": watch, "drifted": drifted}


def check_profile(profile, schema):
    """Profile::validate (section 4): bins that fit the schema."""
    if profile is None:
        return
    bad = lambda m: ModelError("invalid model: " + m)
    if len(profile["fields"]) != len(schema["fields"]):
        raise bad("profile has %d fields, the schema %d" % (len(profile["fields"]), len(schema["fields"])))
    if len(profile["scores"]) != 20:
        raise bad("profile has %d score bins, expected 20" % len(profile["scores"]))
    w, d = profile["watch"], profile["drifted"]
    if not (math.isfinite(w) and math.isfinite(d) and 0 < w <= d):
        raise bad("drift thresholds must satisfy 0 < watch <= drifted")
    for f, p in zip(schema["fields"], profile["fields"]):
        if f["kind"] == "numeric":
            e = p["edges"]
            if not all(math.isfinite(x) for x in e) or any(a >= b for a, b in zip(e, e[1:])):
                raise bad("%s: profile edges are not finite and ascending" % f["name"])
            want = len(e) + 1
        else:
            if p["edges"]:
                raise bad("%s: a categorical field's profile has edges" % f["name"])
            want = len(f["levels"])
        if len(p["counts"]) != want:
            raise bad("%s: profile has %d bins, expected %d" % (f["name"], len(p["counts"]), want))


def load_model(data):
    """Decode and check a model file's bytes (sections 1, 2, 4, 5, 8)."""
    if len(data) < 8 and MAGIC.startswith(data) or len(data) < HEADER_LEN and data[:8] == MAGIC:
        raise ModelError("truncated at byte %d: the 20-byte header is incomplete" % len(data))
    if data[:8] != MAGIC:
        raise ModelError('not a churn model file (bad magic bytes %s, expected "CHURNMDL")'
                         % " ".join("%02x" % b for b in data[:8]))
    version, flags, n, crc = struct.unpack("<HHII", data[8:HEADER_LEN])
    if version not in (1, 2, 3):
        raise ModelError("unsupported format version %d (this build reads 1 to 3)" % version)
    if flags:
        raise ModelError("unsupported flags 0x%04x in header" % flags)
    if n > MAX_PAYLOAD:
        raise ModelError("payload of %d bytes is over the 67108864-byte limit" % n)
    body = data[HEADER_LEN:]
    if len(body) < n:
        raise ModelError("truncated at byte %d: the header announces a %d-byte payload, the file "
                         "has %d" % (len(data), n, len(body)))
    if len(body) > n:
        raise ModelError("%d unexpected bytes after the payload" % (len(body) - n))
    if zlib.crc32(body) != crc:
        raise ModelError("checksum mismatch: header says %08x, payload has %08x (file corrupted)"
                         % (crc, zlib.crc32(body)))
    r = Reader(body)
    schema = read_schema(r)
    threshold, high, medium, decimals = r.f64(), r.f64(), r.f64(), r.u8()
    boosted = version >= 2 and r.enum("Ensemble", 2) == 1
    trees = read_trees(r, boosted)
    card = read_card(r, version)
    profile = r.option(lambda: read_profile(r)) if version >= 3 else None
    if r.pos != n:
        raise ModelError("%d unexpected bytes after the payload" % (n - r.pos))
    if not (0 <= threshold <= 1 and 0 <= medium <= high <= 1 and decimals <= 15):
        raise ModelError("invalid model: policy out of range")
    check_schema(schema, trees["n_features"], len(card["importances"]))
    if version >= 2 and (card["params"][0][0] == "boosted") != boosted:
        raise ModelError("invalid model: the trees and the model card's settings disagree")
    trees["split_rank"] = check_trees(trees)
    check_profile(profile, schema)
    return {"version": version, "schema": schema, "card": card, "trees": trees, "profile": profile,
            "policy": {"threshold": threshold, "high": high, "medium": medium,
                       "decimals": decimals}}


def check_schema(schema, n_features, n_importances):
    """Artifact::validate's schema checks (section 2)."""
    fields = schema["fields"]
    names = [f["name"] for f in fields]
    ok = 0 < len(fields) == n_features >= n_importances and len(set(names)) == len(names)
    for f in fields:
        if f["kind"] == "numeric":
            ok = ok and (f["missing"] is None or math.isfinite(f["missing"]))
        else:
            levels = f["levels"]
            ok = ok and len(levels) == len(set(levels)) > 0 \
                and (f["unknown"] is None or f["unknown"] < len(levels))
    if not ok:
        raise ModelError("invalid model: the schema breaks a rule of FORMAT.md section 2")


def check_trees(t):
    """The section 5 invariants that make traversal safe. Returns each split node's rank k."""
    sf, sizes = t["split_feature"], t["tree_sizes"]
    n_splits = sum(1 for f in sf if f)
    if not sizes or sum(sizes) != len(sf) or len(t["values"]) != len(sf) \
            or len(t["thresholds"]) != t["n_features"] \
            or len(t["split_threshold"]) != n_splits or len(t["right_offset"]) != n_splits:
        raise ModelError("invalid model: forest: array lengths disagree")
    if not all(math.isfinite(v) for table in t["thresholds"] for v in table):
        raise ModelError("invalid model: forest: a threshold is not finite")
    rank, k, start = [None] * len(sf), 0, 0
    for tree, size in enumerate(sizes):
        pending, j = [], 0                       # check_preorder, section 5
        while True:
            if j >= size:
                raise ModelError("invalid model: forest: tree %d: subtree runs past" % tree)
            i = start + j
            if sf[i] == 0:
                j += 1
                if not pending:
                    break
                if pending.pop() != j:
                    raise ModelError("invalid model: forest: tree %d: overlap" % tree)
            else:
                f, off = sf[i] - 1, t["right_offset"][k]
                if f >= t["n_features"] or t["split_threshold"][k] >= len(t["thresholds"][f]) \
                        or off < 2 or j + off >= size:
                    raise ModelError("invalid model: forest: node %d is out of range" % i)
                rank[i], k = k, k + 1
                pending.append(j + off)
                j += 1
        if j != size:
            raise ModelError("invalid model: forest: tree %d has unreached nodes" % tree)
        start += size
    return rank


# ---------------------------------------------------------------- input encoding (section 6)

# Rust's str::trim strips the Unicode White_Space characters. Python's str.strip() would also
# strip U+001C..U+001F, so the set is spelled out.
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) \
    + "\u2028\u2029\u202f\u205f\u3000"
RUST_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
RUST_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)\Z", re.IGNORECASE)
MISSING = "%s: missing value (blank or null), and this field has no rule for missing values"


def quote(text):
    """Quoted as in messages: `"` and `\\` escaped, control characters as \\t \\n \\r or \\u{hex};
    cut after 40 characters, then `… ({length} bytes)`."""
    def esc(c):
        if c in '"\\':
            return "\\" + c
        if c in "\t\n\r":
            return repr(c)[1:-1]
        return "\\u{%x}" % ord(c) if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F else c
    q = '"%s"' % "".join(map(esc, text[:40]))
    return q if len(text) <= 40 else q + "\u2026 (%d bytes)" % len(text.encode())


def encode_numeric(field, cell):
    name, text = field["name"], cell.strip(WHITE_SPACE)
    if not text:
        if field["missing"] is None:
            raise ValueError(MISSING % name)
        return field["missing"]
    if RUST_FLOAT.match(text):
        value = float(text)                      # both correctly rounded: same result
        if math.isfinite(value):
            return value
    if RUST_FLOAT.match(text) or RUST_SPECIAL.match(text):
        raise ValueError("%s: expected a finite number, got %s" % (name, quote(cell)))
    raise ValueError("%s: expected a number, got %s" % (name, quote(cell)))


def encode_categorical(field, text):
    levels = field["levels"]
    for candidate in (text, text.strip(WHITE_SPACE)):
        if candidate in levels:
            return float(levels.index(candidate))
    if field["unknown"] is not None:
        return float(field["unknown"])
    if not text.strip(WHITE_SPACE):
        raise ValueError(MISSING % field["name"])
    raise ValueError("%s: unknown category %s (expected one of: %s)"
                     % (field["name"], quote(text), ", ".join(sorted(levels))))


def encode_row(schema, record):
    """record: dict column -> CSV cell. Returns the feature vector, or raises with all problems."""
    x, problems = [], []
    for field in schema["fields"]:
        try:
            if field["name"] not in record:
                raise ValueError("missing field: %s" % field["name"])
            enc = encode_numeric if field["kind"] == "numeric" else encode_categorical
            x.append(enc(field, record[field["name"]]))
        except ValueError as e:
            problems.append(str(e))
    if problems:
        raise ValueError("; ".join(problems))
    return x


# ---------------------------------------------------------------- scoring (sections 5 and 7)

LN2HI, LN2LO, INVLN2 = 6.93147180369123816490e-01, 1.90821492927058770002e-10, \
    1.44269504088896338700e+00
P1, P2, P3, P4, P5 = 1.66666666666666019037e-01, -2.77777777770155933842e-03, \
    6.61375632143793436117e-05, -1.65339022054652515390e-06, 4.13813679705723846039e-08


def fdlibm_exp(x):
    """exp(x) exactly as fdlibm's e_exp.c (the Rust libm crate) computes it, step by step."""
    if math.isnan(x):
        return x
    if x > 709.782712893383973096:
        return math.inf
    if x < -745.13321910194110842:
        return 0.0
    hx = (struct.unpack("<Q", struct.pack("<d", x))[0] >> 32) & 0x7FFFFFFF  # high word of |x|
    if hx > 0x3FD62E42:                                              # |x| > 0.5 ln2
        if hx >= 0x3FF0A2B2:                                         # |x| >= 1.5 ln2
            k = int(INVLN2 * x + (0.5 if x >= 0 else -0.5))          # truncates, like `as i32`
        else:
            k = 1 if x >= 0 else -1
        hi = x - k * LN2HI                                           # exact: k*LN2HI
        lo = k * LN2LO
        x = hi - lo
    elif hx > 0x3E300000:                                            # |x| > 2**-28
        k, hi, lo = 0, x, 0.0
    else:
        return 1.0 + x
    xx = x * x
    c = x - xx * (P1 + xx * (P2 + xx * (P3 + xx * (P4 + xx * P5))))
    y = 1.0 + (x * c / (2.0 - c) - lo + hi)
    return y if k == 0 else math.ldexp(y, k)


def child(t, x, i):
    """The child of split node i that x goes to: left (i + 1) when x[f] <= threshold."""
    k, f = t["split_rank"][i], t["split_feature"][i] - 1
    left = x[f] <= t["thresholds"][f][t["split_threshold"][k]]
    return i + 1 if left else i + t["right_offset"][k]


def leaf(t, x, i):
    while t["split_feature"][i]:
        i = child(t, x, i)
    return i


def probability(model, x):
    t = model["trees"]
    total, root = (t["base_score"] if t["boosted"] else 0.0), 0
    for size in t["tree_sizes"]:                 # summed in tree order
        total += t["values"][leaf(t, x, root)]
        root += size
    if t["boosted"]:
        return 1.0 / (1.0 + fdlibm_exp(-total))
    return total / float(len(t["tree_sizes"]))


def contributions(model, x):
    """Per-field contributions (section 5, Explanations): each split credits its feature with
    value(child taken) - value(node), added per field in walk order, tree after tree."""
    t, sf, v = model["trees"], model["trees"]["split_feature"], model["trees"]["values"]
    credit, root = [0.0] * t["n_features"], 0
    margin = base_margin = t["base_score"] if t["boosted"] else 0.0
    for size in t["tree_sizes"]:
        i = root
        base_margin += v[root]                   # forest: the sum of the root values
        while sf[i]:
            j = child(t, x, i)
            credit[sf[i] - 1] += v[j] - v[i]
            i = j
        margin += v[i]
        root += size
    if not t["boosted"]:
        n = float(len(t["tree_sizes"]))
        return [c / n for c in credit]
    p, p0 = 1.0 / (1.0 + fdlibm_exp(-margin)), 1.0 / (1.0 + fdlibm_exp(-base_margin))
    factor = (p - p0) / (margin - base_margin) if margin != base_margin else p0 * (1.0 - p0)
    return [c * factor for c in credit]


def top_contributions(model, x, k):
    """The k largest |contribution| as (field index, contribution); ties keep schema order."""
    c = contributions(model, x)
    return [(f, c[f]) for f in sorted(range(len(c)), key=lambda f: -abs(c[f]))[:k]]


def round_half_away(v):
    a = abs(v)
    r = math.floor(a)
    if a - r >= 0.5:                             # a - r is exact: the fraction bits of a
        r += 1.0
    return math.copysign(r, v)


def decide(policy, p):
    """(displayed probability, prediction, risk level) per section 7."""
    scale = float("1e%d" % policy["decimals"])   # the exact f64 constant 1e0 .. 1e15
    shown = round_half_away(p * scale) / scale
    prediction = "Yes" if p > policy["threshold"] else "No"
    risk = "HIGH" if p >= policy["high"] else "MEDIUM" if p >= policy["medium"] else "LOW"
    return shown, prediction, risk


def rust_display(v):
    """f64 as Rust's Display prints it: shortest round-trip digits, never an exponent."""
    s = repr(v)
    if "e" in s or "E" in s:
        mant, exp = s.split("e")
        sign = "-" if mant.startswith("-") else ""
        digits = mant.lstrip("-").replace(".", "")
        point = mant.lstrip("-").find(".")
        point = (len(mant.lstrip("-")) if point < 0 else point) + int(exp)
        digits = digits.rstrip("0") or "0"
        if point <= 0:
            s = sign + "0." + "0" * -point + digits
        elif point >= len(digits):
            s = sign + digits + "0" * (point - len(digits))
        else:
            s = sign + digits[:point] + "." + digits[point:]
    return s[:-2] if s.endswith(".0") else s


def score_csv(model, path, explain=0):
    """Yields (id or None, raw p, displayed p, prediction, risk, why) per data row of a CSV file;
    why is [(field name, cell as given, contribution)] for the `explain` largest contributions."""
    id_col, fields = model["schema"]["id_column"], model["schema"]["fields"]
    with open(path, newline="", encoding="utf-8") as f:
        for record in csv.DictReader(f):
            x = encode_row(model["schema"], record)
            p = probability(model, x)
            why = [(fields[i]["name"], record[fields[i]["name"]], c)
                   for i, c in top_contributions(model, x, explain)] if explain else []
            yield (record.get(id_col) if id_col else None, p) + decide(model["policy"], p) + (why,)


def main(argv):
    explain = int(argv.pop(argv.index("--explain") + 1)) if "--explain" in argv else 0
    argv = [a for a in argv if a != "--explain"]
    if len(argv) != 3:
        sys.exit("usage: churn_ref.py MODEL.bin DATA.csv [--explain K]")
    with open(argv[1], "rb") as f:
        model = load_model(f.read())
    out = csv.writer(sys.stdout, lineterminator="\n")
    id_col = model["schema"]["id_column"]
    out.writerow(([id_col] if id_col else []) +
                 ["churn_probability", "churn_prediction", "risk_level", "churn_probability_raw"] +
                 [c % k for k in range(1, explain + 1)
                  for c in ("why_%d", "why_%d_value", "why_%d_contribution")])
    for ident, raw, shown, prediction, risk, why in score_csv(model, argv[2], explain):
        out.writerow(([ident] if id_col else []) +
                     [rust_display(shown), prediction, risk, rust_display(raw)] +
                     [v for name, cell, c in why for v in (name, cell, rust_display(c))])


if __name__ == "__main__":
    main(sys.argv)
