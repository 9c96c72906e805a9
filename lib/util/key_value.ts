// The `key = value` text format of firezoned.conf: one setting per line, `#` comments, no sections.
// Only the syntax lives here; which keys exist and what their values mean is the caller's table.

export interface KeyValueEntry {
  key: string;
  value: string;
  /** 1-based line number, for error messages. */
  line: number;
}

export type KeyValueResult =
  | { ok: true; entries: KeyValueEntry[] }
  | { ok: false; line: number; message: string };

const KEY = /^[a-z][a-z0-9_]{0,63}$/;
// Tab is allowed as white space; every other C0 control, DEL and the C1 range is refused, so a
// value can never carry a terminal escape or a line break into a message or a protocol.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

/**
 * Parses the text of a `key = value` file. Blank lines and lines whose first non-blank character is
 * `#` are ignored; there are no inline comments (a `#` inside a value is part of it). White space
 * around the key and the value is dropped, and one pair of double quotes around the whole value is
 * removed. A key may appear once. Stops at the first error.
 */
export function parseKeyValue(text: string): KeyValueResult {
  const entries: KeyValueEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i]!.replace(/\r$/, "");
    const content = raw.trim();
    if (content === "" || content.startsWith("#")) continue;
    if (CONTROL.test(raw))
      return { ok: false, line, message: "contains a control character; remove it (only tab is allowed)" };
    if (content.startsWith("["))
      return {
        ok: false,
        line,
        message: "sections are not used in this file; write plain key = value lines",
      };
    const eq = content.indexOf("=");
    if (eq === -1) return { ok: false, line, message: "expected key = value" };
    const key = content.slice(0, eq).trim();
    let value = content.slice(eq + 1).trim();
    if (!KEY.test(key))
      return {
        ok: false,
        line,
        message: `'${key.slice(0, 64)}' is not a valid key (lower-case letters, digits and _)`,
      };
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    const earlier = seen.get(key);
    if (earlier !== undefined)
      return { ok: false, line, message: `'${key}' is already set on line ${earlier}; keep one of them` };
    seen.set(key, line);
    entries.push({ key, value, line });
  }
  return { ok: true, entries };
}
