// One sign-in's portal client: dialled with the token and this sign-in's public key, and its first
// answer (the portal's `init`, or its refusal of the token) as a promise.
import { PortalClient, type PortalClientOptions } from "../portal/index.ts";
import { publicKeyOf } from "../util/index.ts";
import type { PortalConfig } from "./config.ts";
import type { PortalLike, PortalSessionOptions } from "./portal_session_options.ts";

export type FirstAnswer = "init" | { refused: string };

export interface OpenedPortal {
  portal: PortalLike;
  /** Settles on the first `init` or `signed_out`; the client is not started yet. */
  firstAnswer: Promise<FirstAnswer>;
}

export function openPortal(
  opts: PortalSessionOptions,
  config: Extract<PortalConfig, { configured: true }>,
  token: string,
  privateKey: string,
): OpenedPortal {
  const create = opts.createPortal ?? ((o: PortalClientOptions) => new PortalClient(o));
  const portal = create({
    url: config.url,
    allowInsecure: config.allowInsecure,
    ca: config.ca,
    token,
    publicKey: publicKeyOf(privateKey),
    deviceId: opts.deviceId,
    version: opts.version,
    logger: opts.logger.child("portal"),
    ...(opts.deviceName ? { deviceName: opts.deviceName } : {}),
  });
  const firstAnswer = new Promise<FirstAnswer>((resolve) => {
    portal.on("init", () => resolve("init"));
    portal.on("signed_out", (e) => resolve({ refused: e.message }));
  });
  return { portal, firstAnswer };
}
