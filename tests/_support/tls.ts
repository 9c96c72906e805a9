// Certificates for TLS tests, made with openssl in a directory of the test's own: a CA, and server
// certificates it signs for the names a test asks for.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCa {
  /** The CA certificate, PEM. */
  pem: string;
  pemPath: string;
  /** A server certificate and key signed by this CA, for `san` (e.g. "IP:127.0.0.1,DNS:localhost"). */
  serverCert(name: string, san: string): { cert: string; key: string };
}

function openssl(dir: string, args: string[]): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function makeCa(dir: string, name: string): TestCa {
  openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  ]);
  const pemPath = join(dir, `${name}.pem`);
  return {
    pem: readFileSync(pemPath, "utf8"),
    pemPath,
    serverCert(server, san) {
      openssl(dir, [
        "req",
        ...EC,
        "-keyout",
        `${server}.key`,
        "-out",
        `${server}.csr`,
        "-subj",
        `/CN=${server}`,
      ]);
      writeFileSync(join(dir, `${server}.ext`), `subjectAltName=${san}\n`);
      openssl(
        dir,
        ["x509", "-req", "-in", `${server}.csr`, "-CA", `${name}.pem`, "-CAkey", `${name}.key`].concat([
          "-CAcreateserial",
          "-out",
          `${server}.pem`,
          "-days",
          "2",
          "-extfile",
          `${server}.ext`,
        ]),
      );
      return {
        cert: readFileSync(join(dir, `${server}.pem`), "utf8"),
        key: readFileSync(join(dir, `${server}.key`), "utf8"),
      };
    },
  };
}
