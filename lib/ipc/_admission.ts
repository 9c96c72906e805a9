// Who gets a connection and what it may hold: new connections per uid per second, open connections
// per uid and in all, bytes per uid, and refused connections that linger for their client to read
// why. Refusals are logged coalesced, so a flood costs one line per window.
import type { FzError } from "../types/index.ts";
import { Coalescer, type Logger } from "../util/index.ts";
import { ByteBudget, unlimitedBudget } from "./_byte_budget.ts";
import type { Sock } from "./_connection.ts";
import { Outbox } from "./_outbox.ts";
import { CappedCounts, TokenBuckets } from "./_rate_limit.ts";
import { encodeFrame, FrameDecoder } from "./framing.ts";
import { errorBody } from "./membership.ts";
import type { ServerLimits } from "./server_options.ts";

/** Window in which repeated refusals are logged once with a count. */
const REFUSAL_LOG_WINDOW_MS = 10_000;

/** How long a refused connection stays open for its client to read why (see refuse). */
const REFUSED_GRACE_MS = 1000;

interface RefusalLine {
  msg: string;
  fields: Record<string, unknown>;
}

export class Admission {
  private readonly perUid = new Map<number, number>();
  private readonly budgets = new Map<number, ByteBudget>();
  private readonly connects: TokenBuckets;
  private readonly lingering: CappedCounts;
  private readonly refusals: Coalescer<RefusalLine>;

  constructor(
    private readonly limits: ServerLimits,
    log: Logger,
  ) {
    this.connects = new TokenBuckets(limits.connectsPerSecond, limits.connectBurst);
    this.lingering = new CappedCounts(limits.maxLingeringPerUid, limits.maxLingering);
    this.refusals = new Coalescer<RefusalLine>({
      windowMs: REFUSAL_LOG_WINDOW_MS,
      perSourceBudget: 8,
      unbudgeted: (uid) => uid === "0",
      emit: (l) => log.warn(l.msg, l.fields),
      repeated: (l, times, ms) => log.warn(`${l.msg} (repeated ${times} times in ${ms / 1000} s)`, l.fields),
      suppressed: (uid, count, ms) =>
        log.warn("further refusals not logged one by one", { uid, count, seconds: ms / 1000 }),
    });
  }

  /** Takes one new connection from `uid` (non-root) against its rate; false when over it. */
  takeConnect(uid: number): boolean {
    return this.connects.take(uid);
  }

  /** Connections `uid` holds now. */
  openBy(uid: number): number {
    return this.perUid.get(uid) ?? 0;
  }

  /** Counts an admitted connection against its uid and charges its buffers to the uid's budget. */
  count(s: Sock, uid: number): void {
    this.perUid.set(uid, (this.perUid.get(uid) ?? 0) + 1);
    let budget = this.budgets.get(uid);
    if (!budget) {
      budget = uid === 0 ? unlimitedBudget : new ByteBudget(this.limits.maxBytesPerUid);
      this.budgets.set(uid, budget);
    }
    s.data.uid = uid;
    s.data.decoder = new FrameDecoder(budget);
    s.data.outbox = new Outbox(s, this.limits.maxQueuedBytes, budget);
  }

  uncount(s: Sock): void {
    const uid = s.data.uid;
    if (uid === null) return;
    s.data.uid = null;
    s.data.decoder.release();
    s.data.outbox.release();
    const left = (this.perUid.get(uid) ?? 1) - 1;
    if (left > 0) {
      this.perUid.set(uid, left);
      return;
    }
    this.perUid.delete(uid);
    this.budgets.delete(uid);
  }

  /** `uid` is -1 when the caller could not be identified. The caller stops tracking `s`. */
  refuse(s: Sock, uid: number, error: FzError): void {
    this.refusals.note(String(uid), `${error.code}\u0000${error.message}`, {
      msg: "refused connection",
      fields: { uid, code: error.code, reason: error.message },
    });
    this.uncount(s);
    s.data.closed = true;
    // Written straight to the socket: a fresh connection's send buffer is empty, so the small frame
    // fits, and a refused connection gets no queue of its own.
    s.write(encodeFrame({ type: "refused", error: errorBody(error) }));
    // Closing at once can beat the client's own handling of its connect: Bun then reports ECONNRESET
    // and drops the frame, and the caller never learns why or how to join the group. So the client
    // closes once it has read the refusal, or the timer does. Such lingering connections are capped
    // per uid and in all; past the caps a refused connection is closed at once, so a caller that
    // reconnects as fast as it can holds only a handful of descriptors.
    if (this.lingering.tryAdd(uid)) {
      s.data.lingerUid = uid;
      s.data.frameTimer = setTimeout(() => s.end(), REFUSED_GRACE_MS);
    } else {
      s.end();
    }
  }

  /** A closed connection gives back what it held: its lingering slot, its count and its bytes. */
  release(s: Sock): void {
    if (s.data.lingerUid !== null) this.lingering.remove(s.data.lingerUid);
    s.data.lingerUid = null;
    this.uncount(s);
  }

  /** Writes out the refusals still being counted (at stop). */
  flush(): void {
    this.refusals.flush();
  }
}
