// Requests on an admitted connection: the envelope checked, the method looked up in the protocol
// table, membership and tier checked again, parameters parsed, the handler run, exactly one
// response written, and state-changing calls audited.
import * as v from "valibot";
import { FzError } from "../types/index.ts";
import type { Logger } from "../util/index.ts";
import type { Sock } from "./_connection.ts";
import { encodeFrame } from "./framing.ts";
import { errorBody } from "./membership.ts";
import { isMethodName, type MethodName, methods, PROTOCOL_VERSION, RequestEnvelope } from "./protocol.ts";
import type { CallContext, ServerLimits, ServerOptions } from "./server_options.ts";
import { checkTier, type SessionView } from "./tiers.ts";

export interface DispatcherOptions {
  server: ServerOptions;
  limits: ServerLimits;
  log: Logger;
  /** The session as the tier check sees it at this moment. */
  sessionView: () => SessionView;
  /** Closes a connection that cannot be answered any more. */
  drop: (s: Sock) => void;
}

export class Dispatcher {
  constructor(private readonly opts: DispatcherOptions) {}

  /** Replies with an error where the socket still takes it, then closes. */
  failConnection(s: Sock, error: FzError, id: number | null = null): void {
    this.opts.log.debug("closing connection after bad input", {
      user: s.data.peer?.user,
      reason: error.message,
    });
    s.data.outbox.send(
      encodeFrame({ type: "response", id, ok: false, error: { code: error.code, message: error.message } }),
    );
    this.opts.drop(s);
  }

  onMessage(s: Sock, message: unknown): void {
    const parsed = v.safeParse(RequestEnvelope, message);
    if (!parsed.success) {
      const id =
        typeof (message as { id?: unknown })?.id === "number" ? (message as { id: number }).id : null;
      const issue = parsed.issues[0];
      const where = issue?.path?.map((p) => String(p.key)).join(".") || "message";
      this.failConnection(
        s,
        new FzError("invalid_request", `malformed request (${where}: ${issue?.message})`),
        id,
      );
      return;
    }
    const { id, method, params } = parsed.output;
    if (!isMethodName(method)) {
      this.reply(
        s,
        id,
        new FzError(
          "unknown_method",
          `unknown method '${method}'; this daemon speaks protocol ${PROTOCOL_VERSION}`,
        ),
      );
      return;
    }
    const maxInFlight = this.opts.limits.maxInFlight;
    if (s.data.inFlight >= maxInFlight) {
      this.reply(s, id, new FzError("busy", `more than ${maxInFlight} requests in flight on one connection`));
      return;
    }
    s.data.inFlight++;
    this.dispatch(s, id, method, params ?? {}).finally(() => {
      s.data.inFlight--;
    });
  }

  private async dispatch(s: Sock, id: number, method: MethodName, rawParams: unknown): Promise<void> {
    const server = this.opts.server;
    const peer = s.data.peer!;
    const spec = methods[method];
    let outcome = "ok";
    try {
      // Membership is checked again for every change, so a user removed from the group loses
      // member rights on connections opened before (and the audit line has the user's name).
      if (spec.mutates) await server.authorize.mayChange(peer);
      // Then the tier table, with the session as it is at this moment.
      checkTier(method, peer, this.opts.sessionView(), server.groups ?? { member: "firezone" });
      const params = v.safeParse(spec.params, rawParams);
      if (!params.success) {
        throw new FzError(
          "invalid_request",
          `invalid parameters for '${method}': ${params.issues[0]?.message}`,
        );
      }
      let result: unknown;
      if (method === "subscribe") {
        s.data.subscribed = true;
        result = { subscribed: true };
      } else {
        const handler = server.handlers[method] as (p: unknown, c: CallContext) => unknown;
        result = await handler(params.output, { peer });
      }
      this.reply(s, id, null, result);
    } catch (err) {
      const error =
        err instanceof FzError
          ? err
          : new FzError("internal", `firezoned failed to handle '${method}'; see its log`);
      if (!(err instanceof FzError)) this.opts.log.error("handler failed", { method, error: err });
      outcome = error.code;
      this.reply(s, id, error);
    } finally {
      if (spec.mutates) server.audit?.(peer, method, outcome);
    }
  }

  private reply(s: Sock, id: number, error: FzError | null, result?: unknown): void {
    if (s.data.closed) return;
    const body = error
      ? { type: "response", id, ok: false, error: errorBody(error) }
      : { type: "response", id, ok: true, result };
    if (!s.data.outbox.send(encodeFrame(body))) this.opts.drop(s);
  }
}
