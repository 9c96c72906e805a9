// One browser sign-in as the tray runs it: the flow's state and nonce, the 0600 redirect page that
// holds them, the browser opened on that page, and the timers that remove the page and expire the
// attempt. The token that comes back goes to the caller; nothing here talks to the daemon.
import type { Logger } from "../util/index.ts";
import { parseDeepLink } from "./deep_link.ts";
import type { Notification } from "./notifier.ts";
import { type RedirectPage, removeRedirectPage, writeRedirectPage } from "./redirect_page.ts";
import { type CompleteResult, SIGN_IN_TTL_MS, SignInFlow } from "./sign_in_flow.ts";

// Long enough for a browser's cold start to read the page, short enough that the nonce does not sit
// on disk (tmpfs) for the whole sign-in.
const REDIRECT_PAGE_MS = 60_000;

export interface BrowserSignInOptions {
  /** Where the redirect page is written (the user's runtime dir). */
  runtimeDir: string;
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Opens the sign-in redirect page (a file:// URL, never the URL with the nonce); defaults to xdg-open. */
  openUrl?: (url: string) => Promise<void>;
  /** How long the redirect page stays once the browser was started; the page holds the nonce. */
  redirectPageMs?: number;
  /** How long a browser sign-in may take; SIGN_IN_TTL_MS (10 minutes) unless a test says otherwise. */
  signInTtlMs?: number;
  notify: (n: Notification) => void;
  /** Told when an attempt starts (true) and when it ends by any way (false). */
  onSigningIn: (signingIn: boolean) => void;
}

export async function xdgOpen(url: string, env: Record<string, string | undefined>): Promise<void> {
  const proc = Bun.spawn(["xdg-open", url], { env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  // Some xdg-open fallbacks run the browser in the foreground; still running after 5 s means it opened.
  const code = await Promise.race([proc.exited, Bun.sleep(5000).then(() => 0)]);
  if (code !== 0)
    throw new Error(`xdg-open exited with ${code}: ${(await new Response(proc.stderr).text()).trim()}`);
}

export class BrowserSignIn {
  private readonly flow: SignInFlow;
  private page: RedirectPage | null = null;
  private pageTimer: ReturnType<typeof setTimeout> | null = null;
  private expiryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly opts: BrowserSignInOptions) {
    this.flow = new SignInFlow(Date.now, opts.signInTtlMs ?? SIGN_IN_TTL_MS);
  }

  /** Forgets the pending attempt's page and timers (the flow itself is consumed or cancelled by the caller). */
  end(): void {
    if (this.pageTimer) clearTimeout(this.pageTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.pageTimer = this.expiryTimer = null;
    removeRedirectPage(this.page);
    this.page = null;
  }

  private expire(): void {
    if (!this.flow.expire()) return;
    this.end();
    this.opts.onSigningIn(false);
    this.opts.notify({
      summary: "Sign-in expired",
      body: `The browser sign-in was not finished within ${Math.round(this.flow.ttlMs / 60_000)} minutes. Click Sign In to start again.`,
      topic: "session",
    });
  }

  /** Starts an attempt (replacing one under way) and opens the browser on its redirect page. */
  async start(authUrl: string, account: string): Promise<void> {
    const { runtimeDir, logger } = this.opts;
    this.end();
    const pending = this.flow.start(authUrl, account);
    let page: RedirectPage;
    try {
      page = writeRedirectPage(runtimeDir, pending.url);
    } catch (err) {
      this.flow.cancel();
      this.opts.notify({
        summary: "Cannot start the sign-in",
        body: `Cannot write the sign-in page in ${runtimeDir}: ${(err as Error).message}`,
        topic: "session",
      });
      return;
    }
    this.page = page;
    this.expiryTimer = setTimeout(() => this.expire(), this.flow.ttlMs + 50);
    this.opts.onSigningIn(true);
    logger.info("opening the sign-in page", { url: pending.url.split("?")[0], page: page.path });
    try {
      // The browser gets the page's file name; the URL with the nonce stays in a 0600 file.
      await (this.opts.openUrl ?? ((u) => xdgOpen(u, this.opts.env)))(page.fileUrl);
      if (this.page === page)
        this.pageTimer = setTimeout(() => {
          if (this.page !== page) return;
          removeRedirectPage(page);
          this.page = null;
        }, this.opts.redirectPageMs ?? REDIRECT_PAGE_MS);
    } catch (err) {
      // The page stays until the sign-in ends or expires, so the user can open it by hand. Its
      // name is no secret; its contents are readable by this user only.
      this.opts.notify({
        summary: "Cannot open the browser",
        body: `${(err as Error).message}. To sign in, open ${page.fileUrl} in your browser within ${Math.round(this.flow.ttlMs / 60_000)} minutes.`,
        topic: "session",
      });
    }
  }

  cancel(): void {
    this.flow.cancel();
    this.end();
    this.opts.onSigningIn(false);
  }

  /** Checks a deep link against the attempt under way; on success the attempt ends and the token is the caller's. */
  complete(url: string): CompleteResult {
    const parsed = parseDeepLink(url);
    const result = parsed.ok ? this.flow.complete(parsed.callback) : parsed;
    if (!result.ok) return result;
    this.end();
    this.opts.onSigningIn(false);
    return result;
  }
}
