// Numbers from the kernel's uapi headers (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h,
// linux/if_addr.h, linux/genetlink.h, linux/wireguard.h), one table for the whole folder.

export const NLM = {
  F_REQUEST: 0x1,
  F_MULTI: 0x2,
  F_ACK: 0x4,
  F_ECHO: 0x8,
  F_DUMP_INTR: 0x10,
  F_DUMP: 0x300,
  F_REPLACE: 0x100,
  F_EXCL: 0x200,
  F_CREATE: 0x400,
  F_APPEND: 0x800,
  F_CAPPED: 0x100,
  F_ACK_TLVS: 0x200,
  NOOP: 1,
  ERROR: 2,
  DONE: 3,
  OVERRUN: 4,
  HDRLEN: 16,
} as const;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;
export const NLMSGERR_ATTR_MSG = 1;

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWRULE: 32,
  DELRULE: 33,
  GETRULE: 34,
} as const;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IFF_UP = 0x1;

export const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  OPERSTATE: 16,
  LINKINFO: 18,
  INFO_KIND: 1,
  INFO_DATA: 2,
} as const;

export const IFA = {
  ADDRESS: 1,
  LOCAL: 2,
  LABEL: 3,
  CACHEINFO: 6,
  FLAGS: 8,
  F_NODAD: 0x02,
  F_PERMANENT: 0x80,
  F_NOPREFIXROUTE: 0x200,
} as const;

export const RTA = {
  DST: 1,
  SRC: 2,
  OIF: 4,
  GATEWAY: 5,
  PRIORITY: 6,
  PREFSRC: 7,
  TABLE: 15,
} as const;

export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_MAIN = 254;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;
export const RTN_UNSPEC = 0;
export const RTN_UNICAST = 1;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;

// linux/fib_rules.h: struct fib_rule_hdr is followed by FRA_* attributes.
export const FRA = {
  DST: 1,
  SRC: 2,
  PRIORITY: 6,
  FWMARK: 10,
  SUPPRESS_PREFIXLEN: 14,
  TABLE: 15,
  FWMASK: 16,
  PROTOCOL: 21,
} as const;
export const FR_ACT_TO_TBL = 1;
export const FIB_RULE_INVERT = 0x2;

export const GENL_ID_CTRL = 0x10;
export const CTRL = {
  CMD_GETFAMILY: 3,
  ATTR_FAMILY_ID: 1,
  ATTR_FAMILY_NAME: 2,
  ATTR_VERSION: 3,
} as const;
