// CSV in, matching what the native `churn score` reads record for record (writing the scored
// file is the core's: `ChurnModel.csvScorer`).
//
// Reading follows the Rust `csv` crate as the CLI configures it (trainer/src/scoring.rs:
// headers on, `flexible`, default quoting): a field that starts with `"` is quoted and `""`
// inside it is one quote; text after a closing quote is kept (`"ab"c` → `abc`); a quote inside
// an unquoted field is literal; `\n`, `\r\n` and a lone `\r` all end a record; empty lines are
// skipped; nothing is trimmed. A general-purpose parser (papaparse & co.) differs on several of
// these (newline auto-detection, blank lines), and the scored file must equal the CLI's, so the
// page carries this small reader instead.

const QUOTE = 34,
  COMMA = 44,
  LF = 10,
  CR = 13;

/**
 * Reads CSV text record by record. Each record is `{fields, line}` where `line` is the line
 * number the CLI's messages give it ("line N"): the Rust reader's record position, i.e. one plus
 * the number of `\n` read *before this record was started*. That is the record's own line,
 * except that blank lines skipped just before a record are not counted yet, and in a CRLF file
 * the `\n` of the previous line is read with the next record (so CRLF files show one less).
 * The page repeats this so its error list names the same lines as `churn score`.
 * @param {string} text
 * @returns {Generator<{fields: string[], line: number}>}
 */
export function* readCsv(text) {
  const n = text.length;
  let i = 0;
  let line = 1; // 1 + the number of \n consumed so far
  let start = line;
  while (i < n) {
    let c = text.charCodeAt(i);
    // Skip empty lines (and the \n of a previous \r\n) between records.
    if (c === LF) {
      line++;
      i++;
      continue;
    }
    if (c === CR) {
      i++;
      continue;
    }
    const fields = [];
    for (;;) {
      let value = "";
      if (i < n && text.charCodeAt(i) === QUOTE) {
        // Quoted field: up to the closing quote, then any text until the delimiter.
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          const chunk = q < 0 ? text.slice(i) : text.slice(i, q);
          for (let k = chunk.indexOf("\n"); k >= 0; k = chunk.indexOf("\n", k + 1)) line++;
          value += chunk;
          if (q < 0) {
            i = n;
            break;
          }
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            i = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
      }
      // Unquoted field (or the tail after a closing quote).
      let j = i;
      while (j < n) {
        c = text.charCodeAt(j);
        if (c === COMMA || c === LF || c === CR) break;
        j++;
      }
      value += text.slice(i, j);
      fields.push(value);
      i = j;
      if (i >= n) break;
      c = text.charCodeAt(i);
      i++;
      if (c === COMMA) continue;
      if (c === LF) line++;
      break; // a \r ends the record; a \n after it is skipped with the next one
    }
    yield { fields, line: start };
    start = line;
  }
}
