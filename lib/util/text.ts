// Text from outside the process: bounded and free of control characters where it enters
// (parseText), and escaped again wherever it is shown (displayText), so a name from the portal can
// neither move a terminal's cursor nor reverse the order of what a notification says.

/**
 * C0 (including tab and newline), DEL, C1, and the bidirectional overrides and isolates
 * (U+202A-U+202E, U+2066-U+2069), which can make "exe.txt" read as "txt.exe".
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Checks a string from outside: 1..max characters (or 0 with `allowEmpty`), no control characters. */
export function parseText(text: string, opts: { what: string; max: number; allowEmpty?: boolean }): string {
  if (text.length === 0 && !opts.allowEmpty) throw new Error(`${opts.what} is empty`);
  if (text.length > opts.max)
    throw new Error(`${opts.what} is ${text.length} characters long (at most ${opts.max})`);
  if (UNSAFE.test(text)) throw new Error(`${opts.what} holds control characters: ${displayText(text, 64)}`);
  return text;
}

/**
 * The text as it may be shown in a terminal, a menu or a notification: every unsafe character (see
 * UNSAFE) becomes a visible escape such as `\x1b` or `\u202e`, a backslash stays a backslash, and a
 * text longer than `max` characters is cut with "...". Idempotent for safe text.
 */
export function displayText(text: string, max = 1024): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return cut.replace(UNSAFE_ALL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}
