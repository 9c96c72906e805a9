// The accept queue of a listening socket. Bun listens with a backlog of 512; calling listen() again
// on the listening socket raises it (the kernel caps it at net.core.somaxconn).
import { libc } from "./_libc.ts";
import { check } from "./check.ts";

export function setListenBacklog(fd: number, backlog: number): void {
  check("listen", libc.listen(fd, backlog));
}
