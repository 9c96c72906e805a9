// One NETLINK_ROUTE connection with the link, address, route and rule operations as methods.
import { NETLINK_ROUTE, type NetlinkSocketOptions } from "../sys/index.ts";
import { type Address, type AddressOptions, addAddress, deleteAddress, listAddresses } from "./addresses.ts";
import { NetlinkConnection } from "./connection.ts";
import { createLink, deleteLink, getLink, type Link, type LinkChange, listLinks, setLink } from "./links.ts";
import {
  addRoute,
  addRoutes,
  deleteRoute,
  listRoutes,
  type Route,
  type RouteFilter,
  type RouteSpec,
} from "./routes.ts";
import { addRule, deleteRule, listRules, type Rule, type RuleFilter, type RuleSpec } from "./rules.ts";

/** rtnetlink: links, addresses, routes and rules of the network namespace the process runs in. */
export class Rtnetlink {
  readonly conn: NetlinkConnection;

  constructor(options: NetlinkSocketOptions = {}) {
    this.conn = new NetlinkConnection(NETLINK_ROUTE, options);
  }

  links(): Link[] {
    return listLinks(this.conn);
  }
  link(name: string): Link | null {
    return getLink(this.conn, name);
  }
  createLink(name: string, kind: string): void {
    createLink(this.conn, name, kind);
  }
  setLink(index: number, change: LinkChange): void {
    setLink(this.conn, index, change);
  }
  deleteLink(index: number): void {
    deleteLink(this.conn, index);
  }

  addresses(index?: number): Address[] {
    return listAddresses(this.conn, index);
  }
  addAddress(index: number, cidr: string, options?: AddressOptions): void {
    addAddress(this.conn, index, cidr, options);
  }
  deleteAddress(index: number, cidr: string): void {
    deleteAddress(this.conn, index, cidr);
  }

  routes(filter?: RouteFilter): Route[] {
    return listRoutes(this.conn, filter);
  }
  addRoute(spec: RouteSpec, options?: { replace?: boolean }): void {
    addRoute(this.conn, spec, options);
  }
  /** Many adds in few round trips; one result per route (null: added). */
  addRoutes(specs: readonly RouteSpec[]): (Error | null)[] {
    return addRoutes(this.conn, specs);
  }
  deleteRoute(spec: RouteSpec): void {
    deleteRoute(this.conn, spec);
  }

  rules(filter?: RuleFilter): Rule[] {
    return listRules(this.conn, filter);
  }
  addRule(spec: RuleSpec): void {
    addRule(this.conn, spec);
  }
  deleteRule(spec: RuleSpec): void {
    deleteRule(this.conn, spec);
  }

  close(): void {
    this.conn.close();
  }
}
