// Finds the Debian mirror this host's apt already uses, so the image build needs no other server.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Mirror {
  uri: string;
  suite: string;
}

const SOURCES_DIR = "/etc/apt/sources.list.d";

/** The first `deb` source with component main whose suite is a plain release (not -security/-updates). */
export function hostDebianMirror(aptDir = "/etc/apt"): Mirror | null {
  const candidates: Mirror[] = [];
  const listFile = join(aptDir, "sources.list");
  if (existsSync(listFile)) candidates.push(...parseOneLine(readFileSync(listFile, "utf8")));
  const dir = aptDir === "/etc/apt" ? SOURCES_DIR : join(aptDir, "sources.list.d");
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      const text = readFileSync(join(dir, name), "utf8");
      if (name.endsWith(".list")) candidates.push(...parseOneLine(text));
      else if (name.endsWith(".sources")) candidates.push(...parseDeb822(text));
    }
  }
  return candidates.find(isDebianRelease) ?? null;
}

// Third-party repositories use their own suite names; Debian mirrors carry the release names.
function isDebianRelease(m: Mirror): boolean {
  return ["bookworm", "trixie", "bullseye", "stable"].includes(m.suite);
}

function parseOneLine(text: string): Mirror[] {
  const out: Mirror[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    // deb [opts] uri suite components...
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(line);
    if (m?.[1] && m[2] && m[3]?.split(/\s+/).includes("main")) out.push({ uri: m[1], suite: m[2] });
  }
  return out;
}

function parseDeb822(text: string): Mirror[] {
  const out: Mirror[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const raw of stanza.split("\n")) {
      if (raw.startsWith("#")) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
      if (m?.[1] && m[2] !== undefined) fields.set(m[1].toLowerCase(), m[2].trim());
    }
    if (fields.get("enabled") === "no") continue;
    if (!(fields.get("types") ?? "").split(/\s+/).includes("deb")) continue;
    if (!(fields.get("components") ?? "").split(/\s+/).includes("main")) continue;
    for (const uri of (fields.get("uris") ?? "").split(/\s+/).filter(Boolean)) {
      for (const suite of (fields.get("suites") ?? "").split(/\s+/).filter(Boolean)) out.push({ uri, suite });
    }
  }
  return out;
}
