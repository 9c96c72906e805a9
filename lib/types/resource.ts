/**
 * The kinds of resource: one address, one CIDR range, a DNS name pattern (`dns`, docs/dns.md), or
 * the Internet Resource (everything no other resource covers: a full tunnel, switched on by the user).
 */
export type ResourceType = "cidr" | "ip" | "internet" | "dns";

/**
 * A resource the signed-in actor may reach, as the portal describes it. One model for the portal
 * protocol, the daemon, firezonectl and the tray.
 */
export interface Resource {
  id: string;
  name: string;
  type: ResourceType;
  /**
   * `ip`: one IPv4 or IPv6 address; `cidr`: a network such as `10.0.0.0/24` or `fd00::/64`;
   * `internet`: empty (the portal sends no address for it).
   */
  address: string;
  /** The site whose gateways forward to this resource. */
  site: { id: string; name: string };
}
