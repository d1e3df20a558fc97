// The generated part of a doc: the text between a BEGIN and an END marker, which a tool rewrites from a run.

/** `doc` (the text of `file`) with the part from `begin` through `end` replaced by `table` (which carries both markers). */
export function withTable(file: string, doc: string, begin: string, end: string, table: string): string {
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${file}: the markers ${begin} ... ${end} are missing`);
  return doc.slice(0, a) + table + doc.slice(b + end.length);
}
