// Kvrocks parses every number with strtol/strtoul and then checks what is left, so inputs
// such as " 5", "+5" or "-1" as unsigned are accepted or refused exactly as C does. Error
// texts matter: some reach clients verbatim ("Invalid slot id: out of numeric range").

export type IntKind = "int32" | "int64" | "uint16" | "uint32" | "uint64";

export type IntResult = { ok: true; value: bigint } | { ok: false; msg: string };

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const ULONG_MAX = 2n ** 64n - 1n;

const LIMITS: Record<IntKind, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [LONG_MIN, LONG_MAX],
  uint16: [0n, 65535n],
  uint32: [0n, 2n ** 32n - 1n],
  uint64: [0n, ULONG_MAX],
};

const isCSpace = (c: string): boolean => c === " " || (c >= "\t" && c <= "\r");

/** strtol (signed kinds) or strtoul (unsigned kinds), base 10, then the whole-string rule. */
export function parseCInt(text: string, kind: IntKind): IntResult {
  let i = 0;
  while (i < text.length && isCSpace(text[i]!)) i++;
  let negative = false;
  if (text[i] === "+" || text[i] === "-") {
    negative = text[i] === "-";
    i++;
  }
  const digitsStart = i;
  while (i < text.length && text[i]! >= "0" && text[i]! <= "9") i++;
  if (i === digitsStart) return { ok: false, msg: "not started as an integer" };
  const magnitude = BigInt(text.slice(digitsStart, i));
  const unsigned = kind.startsWith("u");
  let value: bigint;
  if (unsigned) {
    // strtoul negates in unsigned arithmetic: "-1" becomes ULONG_MAX.
    if (magnitude > ULONG_MAX) return { ok: false, msg: "Numerical result out of range" };
    value = negative && magnitude !== 0n ? ULONG_MAX + 1n - magnitude : magnitude;
  } else {
    value = negative ? -magnitude : magnitude;
    if (value < LONG_MIN || value > LONG_MAX) {
      return { ok: false, msg: "Numerical result out of range" };
    }
  }
  const [min, max] = LIMITS[kind];
  if (value < min || value > max) return { ok: false, msg: "out of range of integer type" };
  if (i !== text.length) return { ok: false, msg: "encounter non-integer characters" };
  return { ok: true, value };
}

/** ParseInt with a {min, max} range, as Kvrocks's overload does. */
export function parseCIntInRange(text: string, kind: IntKind, min: number, max: number): IntResult {
  const r = parseCInt(text, kind);
  if (!r.ok) return r;
  if (r.value < BigInt(min) || r.value > BigInt(max)) {
    return { ok: false, msg: "out of numeric range" };
  }
  return r;
}
