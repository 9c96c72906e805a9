/**
 * Netlink in TypeScript over lib/sys sockets: rtnetlink for links, addresses, routes and policy rules, generic
 * netlink for family lookup and family requests, message building and parsing, and NLMSG_ERROR
 * replies turned into the typed errors of lib/sys.
 */
export {
  type Address,
  type AddressOptions,
  addAddress,
  decodeAddress,
  deleteAddress,
  listAddresses,
} from "./addresses.ts";
export { type BatchRequest, requestBatch } from "./batch.ts";
export { NetlinkConnection, type RequestOptions } from "./connection.ts";
export {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  CTRL,
  FIB_RULE_INVERT,
  FR_ACT_TO_TBL,
  FRA,
  GENL_ID_CTRL,
  IFA,
  IFF_UP,
  IFLA,
  NLA_F_NESTED,
  NLM,
  RT_TABLE_MAIN,
  RTA,
  RTM,
  RTPROT_STATIC,
} from "./constants.ts";
export { decodeNetlinkError } from "./errors.ts";
export { GenericNetlink, type GenlFamily, writeGenlHeader } from "./genetlink.ts";
export {
  createLink,
  decodeLink,
  deleteLink,
  getLink,
  type Link,
  type LinkChange,
  listLinks,
  setLink,
  writeIfinfo,
} from "./links.ts";
export {
  decodeEvents,
  IFF_LOWER_UP,
  type NetlinkEvent,
  NetlinkMonitor,
  type NetlinkMonitorOptions,
  RTNLGRP,
} from "./monitor.ts";
export { listNetconf, NETCONF_ALL, NETCONF_DEFAULT, type Netconf } from "./netconf.ts";
export {
  attrMap,
  type NlAttr,
  type NlMessage,
  parseAttrs,
  parseMessages,
  readI32,
  readString,
  readU8,
  readU16,
  readU32,
  readU64,
} from "./parse.ts";
export {
  addRoute,
  addRoutes,
  decodeRoute,
  deleteRoute,
  listRoutes,
  type Route,
  type RouteFilter,
  type RouteSpec,
  writeRoute,
} from "./routes.ts";
export { Rtnetlink } from "./rtnetlink.ts";
export { addRule, deleteRule, listRules, type Rule, type RuleFilter, type RuleSpec } from "./rules.ts";
export { NlWriter } from "./writer.ts";
