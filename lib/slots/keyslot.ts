// Key -> slot as Redis Cluster and Kvrocks compute it: CRC16/XMODEM of the hash tag (the bytes
// between the first '{' and the next '}', when not empty) or of the whole key, mod 16384.

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

function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The slot of `key` (a string is taken as UTF-8, as clients send it). */
export function keySlot(key: string | Uint8Array): number {
  const bytes = typeof key === "string" ? new TextEncoder().encode(key) : key;
  const open = bytes.indexOf(0x7b);
  let tag = bytes;
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) tag = bytes.subarray(open + 1, close);
  }
  return crc16(tag) & 16383;
}
