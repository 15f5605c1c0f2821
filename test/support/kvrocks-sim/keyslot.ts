// Key -> slot exactly as Redis Cluster and Kvrocks: CRC16/XMODEM of the hash tag (the
// bytes between the first '{' and the next '}', when not empty) or of the whole key.

export const SLOT_COUNT = 16384;

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

export function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

export function hashTag(key: Buffer): Buffer {
  const open = key.indexOf(0x7b /* { */);
  if (open < 0) return key;
  const close = key.indexOf(0x7d /* } */, open + 1);
  if (close < 0 || close <= open + 1) return key;
  return key.subarray(open + 1, close);
}

/** Strings are taken as UTF-8, as clients send them. */
export function keySlot(key: string | Buffer): number {
  const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  return crc16(hashTag(bytes)) & (SLOT_COUNT - 1);
}
