// A bounded write queue for one socket: what the kernel would not take now waits for `drain`,
// and a reader that falls too far behind is reported instead of growing memory without bound.
// Queued bytes are also charged to the caller's budget, shared by all of its connections.
import { type ByteBudget, unlimitedBudget } from "./_byte_budget.ts";

export interface Writable {
  write(data: Uint8Array): number;
}

export class Outbox {
  private queue: Uint8Array[] = [];
  private queued = 0;

  constructor(
    private readonly socket: Writable,
    private readonly maxQueuedBytes: number,
    private readonly budget: ByteBudget = unlimitedBudget,
  ) {}

  get queuedBytes(): number {
    return this.queued;
  }

  /** Returns false when the frame would push the backlog over the limit (nothing is queued then). */
  send(frame: Uint8Array): boolean {
    if (this.queue.length > 0) return this.enqueue(frame);
    const written = Math.max(0, this.socket.write(frame));
    if (written === frame.length) return true;
    return this.enqueue(frame.subarray(written));
  }

  /** Called on `drain`: writes as much of the backlog as the kernel takes. */
  flush(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const written = Math.max(0, this.socket.write(head));
      this.queued -= written;
      this.budget.give(written);
      if (written < head.length) {
        this.queue[0] = head.subarray(written);
        return;
      }
      this.queue.shift();
    }
  }

  /** Forgets the backlog and refunds it (the connection is closing). */
  release(): void {
    this.budget.give(this.queued);
    this.queue = [];
    this.queued = 0;
  }

  private enqueue(frame: Uint8Array): boolean {
    if (this.queued + frame.length > this.maxQueuedBytes) return false;
    if (!this.budget.take(frame.length)) return false;
    this.queue.push(frame);
    this.queued += frame.length;
    return true;
  }
}
