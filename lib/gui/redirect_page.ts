// The sign-in URL carries the nonce, half of the token. Handed to `xdg-open <url>` it would sit in
// the browser's argv (/proc/<pid>/cmdline, readable by every user) for as long as the browser runs.
// Instead it goes into a 0600 page under $XDG_RUNTIME_DIR/firezone that forwards to it, and the
// browser is given only that file's name.
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { randomHex32 } from "./sign_in_flow.ts";

export interface RedirectPage {
  path: string;
  /** What the browser is given: `file:///run/user/<uid>/firezone/sign-in-<random>.html`. */
  fileUrl: string;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A page that forwards at once (meta refresh, and script where it runs), with a link as a last resort. */
export function redirectPageHtml(url: string): string {
  const href = escapeHtml(url);
  // JSON is a JavaScript string literal; `<` escaped so no `</script>` can end the element early.
  const js = JSON.stringify(url).replace(/</g, "\\u003c");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url=${href}">
<title>Firezone sign-in</title></head>
<body><p>Opening the Firezone sign-in page. <a href="${href}">Continue</a></p>
<script>location.replace(${js});</script></body></html>
`;
}

/** Writes a fresh page (O_EXCL: never through an existing name or symlink), mode 0600, in `dir`. */
export function writeRedirectPage(dir: string, url: string): RedirectPage {
  const path = join(dir, `sign-in-${randomHex32().slice(0, 16)}.html`);
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, redirectPageHtml(url));
  } finally {
    closeSync(fd);
  }
  return { path, fileUrl: pathToFileURL(path).href };
}

/** Removes the page; a page already gone is fine. */
export function removeRedirectPage(page: RedirectPage | null): void {
  if (!page) return;
  try {
    unlinkSync(page.path);
  } catch {}
}
