// The DNS wire codec: round trips, EDNS0, and hostile packets (compression loops, forward pointers,
// truncation at every byte, random and mutated packets) that must end in DnsFormatError only.
import { describe, expect, test } from "bun:test";
import {
  buildAnswer,
  CLASS_IN,
  DnsFormatError,
  encodeMessage,
  MAX_POINTERS,
  parseMessage,
  parseQuery,
  RCODE,
  readName,
  TYPE,
  truncateResponse,
} from "../../lib/dns/index.ts";

const query = (name: string, type: number = TYPE.A, edns?: number) =>
  encodeMessage({
    header: { id: 0x1234, flags: 0x0100 },
    questions: [{ name, type, class: CLASS_IN }],
    ...(edns ? { edns: { udpPayloadSize: edns, dnssecOk: true } } : {}),
  });

const header = (qd: number, an = 0, ns = 0, ar = 0, flags = 0x0100) =>
  Uint8Array.of(0xab, 0xcd, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, ns, 0, ar);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Any throw other than DnsFormatError fails the test with the packet in the message. */
function parsesOrRefuses(packet: Uint8Array, parse: (b: Uint8Array) => unknown = parseMessage) {
  try {
    parse(packet);
  } catch (e) {
    if (!(e instanceof DnsFormatError))
      throw new Error(`non-format error ${String(e)} for ${Buffer.from(packet).toString("hex")}`);
  }
}

describe("DNS codec", () => {
  test("a response round-trips with compression, A/AAAA decoded and other types passed through", () => {
    const bytes = encodeMessage({
      header: { id: 7, flags: 0x8180 },
      questions: [{ name: "www.Corp.Example", type: TYPE.A, class: CLASS_IN }],
      answers: [
        {
          name: "www.corp.example",
          type: TYPE.CNAME,
          class: CLASS_IN,
          ttl: 30,
          data: Uint8Array.of(1, 0x61, 0),
        },
        {
          name: "www.corp.example",
          type: TYPE.A,
          class: CLASS_IN,
          ttl: 30,
          data: Uint8Array.of(10, 0, 0, 1),
        },
        {
          name: "www.corp.example",
          type: TYPE.AAAA,
          class: CLASS_IN,
          ttl: 30,
          data: new Uint8Array(16).fill(1),
        },
      ],
      edns: { udpPayloadSize: 1232, dnssecOk: true },
    });
    // The owner names after the question are 2-byte pointers.
    expect(bytes.length).toBeLessThan(12 + 22 + 3 * 12 + 3 + 4 + 16 + 11 + 30);
    const m = parseMessage(bytes);
    expect(m.header.id).toBe(7);
    expect(m.questions).toEqual([{ name: "www.corp.example", type: TYPE.A, class: CLASS_IN }]);
    expect(m.answers.map((a) => [a.name, a.type, a.ttl])).toEqual([
      ["www.corp.example", TYPE.CNAME, 30],
      ["www.corp.example", TYPE.A, 30],
      ["www.corp.example", TYPE.AAAA, 30],
    ]);
    expect([...m.answers[1]!.address!]).toEqual([10, 0, 0, 1]);
    expect(m.answers[0]!.data).toEqual(Uint8Array.of(1, 0x61, 0));
    expect(m.edns).toMatchObject({ udpPayloadSize: 1232, dnssecOk: true, version: 0 });
  });

  test("labels with dots or binary bytes stay distinct from label boundaries", () => {
    const bytes = concat(
      header(1),
      Uint8Array.of(3, 0x61, 0x2e, 0x62, 1, 0xff, 0),
      Uint8Array.of(0, 1, 0, 1),
    );
    expect(parseQuery(bytes).question.name).toBe("a\\046b.\\255");
  });

  test("a query: one question, EDNS0 payload size and DO bit read", () => {
    const q = parseQuery(query("App.Corp.Example.", TYPE.AAAA, 4096));
    expect(q.question).toEqual({ name: "app.corp.example", type: TYPE.AAAA, class: CLASS_IN });
    expect(q.edns).toMatchObject({ udpPayloadSize: 4096, dnssecOk: true });
  });

  const REFUSED: Array<[string, Uint8Array, RegExp]> = [
    ["shorter than a header", Uint8Array.of(1, 2, 3), /shorter than a header/],
    ["a response given as a query", header(1, 0, 0, 0, 0x8180), /a response/],
    ["no question", header(0), /0 questions/],
    ["two questions", concat(header(2), Uint8Array.of(0, 0, 1, 0, 1, 0, 0, 1, 0, 1)), /2 questions/],
    ["a pointer to itself", concat(header(1), Uint8Array.of(0xc0, 12, 0, 1, 0, 1)), /backward/],
    ["a forward pointer", concat(header(1), Uint8Array.of(0xc0, 14, 1, 0x61, 0, 0, 1, 0, 1)), /backward/],
    ["a pointer into the header", concat(header(1), Uint8Array.of(0xc0, 2, 0, 1, 0, 1)), /header/],
    ["an extended label type", concat(header(1), Uint8Array.of(0x41, 0, 0, 1, 0, 1)), /label type/],
    ["a label past the end", concat(header(1), Uint8Array.of(10, 0x61)), /past the end/],
    ["bytes after the question", concat(query("a.example"), Uint8Array.of(0)), /after the question/],
    [
      "a name over 255 octets",
      concat(
        header(1),
        ...Array.from({ length: 5 }, () => Uint8Array.of(63, ...new Uint8Array(63).fill(0x61))),
        Uint8Array.of(0, 0, 1, 0, 1),
      ),
      /255 octets/,
    ],
  ];
  test.each(REFUSED)("refused: %s", (_what, bytes, reason) => {
    expect(() => parseQuery(bytes)).toThrow(DnsFormatError);
    expect(() => parseQuery(bytes)).toThrow(reason);
  });

  test("a loop of two pointers is refused (the second one does not point backward)", () => {
    // Record owner at 29 points to 31, which points back to 29.
    const q = query("a.example");
    const rr = Uint8Array.of(0xc0, q.length + 2, 0xc0, q.length, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4);
    const bytes = concat(q, rr);
    bytes[7] = 1; // ancount
    expect(() => parseMessage(bytes)).toThrow(/backward/);
  });

  test(`a chain of more than ${MAX_POINTERS} backward pointers is refused`, () => {
    // 20 pointers, each pointing at the one before it, the first at a one-label name.
    const parts: number[] = [1, 0x61, 0];
    for (let i = 0; i < 20; i++) parts.push(0xc0, i === 0 ? 12 : 12 + 3 + (i - 1) * 2);
    const buf = concat(new Uint8Array(12), Uint8Array.from(parts));
    expect(() => readName(buf, buf.length - 2)).toThrow(/too many compression pointers/);
    expect(readName(buf, 12 + 3 + 2 * 5).name).toBe("a");
  });

  test("every truncation of a valid response is refused, never a crash", () => {
    const full = buildAnswer(
      query("app.corp.example", TYPE.A, 1232),
      parseQuery(query("app.corp.example", TYPE.A, 1232)),
      RCODE.NOERROR,
      [Uint8Array.of(100, 96, 0, 1)],
      60,
    );
    expect(parseMessage(full).answers[0]!.address).toEqual(Uint8Array.of(100, 96, 0, 1));
    for (let n = 0; n < full.length; n++)
      expect(() => parseMessage(full.subarray(0, n))).toThrow(DnsFormatError);
  });

  test("20,000 random and mutated packets end in DnsFormatError or a parse, nothing else", () => {
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const seeds = [
      query("app.corp.example", TYPE.A, 1232),
      buildAnswer(query("x.example"), parseQuery(query("x.example")), RCODE.NOERROR, [new Uint8Array(16)], 5),
    ];
    for (let i = 0; i < 10_000; i++) {
      const random = Uint8Array.from({ length: rand() % 80 }, () => rand() & 0xff);
      parsesOrRefuses(random);
      parsesOrRefuses(random, parseQuery);
      const mutated = seeds[i % 2]!.slice();
      for (let k = 0; k < 1 + (rand() % 4); k++) mutated[rand() % mutated.length] = rand() & 0xff;
      parsesOrRefuses(mutated);
      parsesOrRefuses(mutated, parseQuery);
    }
  });

  test("a truncated answer keeps the question and sets TC", () => {
    const raw = query("big.example", TYPE.A);
    const q = parseQuery(raw);
    const big = buildAnswer(
      raw,
      q,
      RCODE.NOERROR,
      Array.from({ length: 40 }, () => new Uint8Array(16)),
      5,
    );
    const cut = truncateResponse(big, q.questionEnd);
    const m = parseMessage(cut);
    expect(m.header.flags & 0x0200).toBe(0x0200);
    expect(m.questions[0]!.name).toBe("big.example");
    expect(m.answers).toEqual([]);
  });
});
