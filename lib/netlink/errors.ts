// NLMSG_ERROR replies become the same typed errors as failed system calls (AlreadyExistsError for
// EEXIST, NotFoundError for ENODEV...), with the kernel's extended-ack text when it sent one.
import { type SysError, sysError } from "../sys/index.ts";
import { NLM, NLMSGERR_ATTR_MSG } from "./constants.ts";
import { attrMap, readI32, readString, readU32 } from "./parse.ts";

/** Decodes an NLMSG_ERROR body: 0 for an ack, else a typed error naming `operation`. */
export function decodeNetlinkError(operation: string, body: Uint8Array, flags: number): SysError | null {
  const code = readI32(body, 0);
  if (code === 0) return null;
  let detail: string | undefined;
  if (flags & NLM.F_ACK_TLVS && body.length >= 20) {
    // After the error code comes the request's header (capped) or the whole request.
    const embedded = flags & NLM.F_CAPPED ? 16 : readU32(body, 4);
    const msg = attrMap(body, 4 + embedded).get(NLMSGERR_ATTR_MSG);
    if (msg) detail = readString(msg);
  }
  return sysError(`netlink ${operation}`, -code, detail);
}
