// What the commands route answers and logs of node settings that are secrets. The reference
// Kvrocks here is built without OpenSSL, so it has no tls-key-file-pass to read through the
// HTTP app; a Kvrocks built with it answers `CONFIG GET *` with the key's passphrase in clear,
// to any token (CONFIG GET is a node fact).
import { describe, expect, it } from "vitest";
import { loggableArgs, toReply } from "../../lib/ops/commands.js";

describe("node settings that are secrets", () => {
  it("answers CONFIG GET's tls-key-file-pass, requirepass and masterauth as ******, other settings as they are", () => {
    const reply = toReply(
      [
        "maxclients",
        "10000",
        "tls-key-file-pass",
        "key-passphrase-9",
        "requirepass",
        "pw",
        "masterauth",
        "pw",
      ],
      ["CONFIG", "GET", "*"],
      [],
    );
    expect(reply).toEqual([
      "maxclients",
      "10000",
      "tls-key-file-pass",
      "******",
      "requirepass",
      "******",
      "masterauth",
      "******",
    ]);
  });

  it("never logs the value of CONFIG SET tls-key-file-pass", () => {
    expect(loggableArgs(["CONFIG", "SET", "tls-key-file-pass", "key-passphrase-9"])).toEqual([
      "CONFIG",
      "SET",
      "tls-key-file-pass",
      "******",
    ]);
  });
});
