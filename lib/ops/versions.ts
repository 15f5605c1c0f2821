// The lowest Kvrocks release whose commands the controller relies on. Ranged
// `CLUSTERX MIGRATE <start-end>` (apache/kvrocks#2389) first shipped in 2.10.0; every other
// command used (CLUSTERX SETNODEID / SETNODES / VERSION / MYID, CLUSTER INFO's migration
// fields) is older.
import { errorMessage, invalid } from "../errors.js";
import { readKvrocksVersion, withNode } from "../kvrocks/index.js";

export const MIN_KVROCKS_VERSION = "2.10.0";

/** [major, minor, patch] of `2.10.1`, `v2.9.0`, `2.10.0-rc1`; null for `unstable` and the like. */
export function versionParts(version: string): [number, number, number] | null {
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version.trim());
  if (!match) return null;
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
}

/** False only for a release known to be older than the minimum (a dev build is not judged). */
export function supportedVersion(version: string, minimum = MIN_KVROCKS_VERSION): boolean {
  const have = versionParts(version);
  const need = versionParts(minimum)!;
  if (!have) return true;
  for (let i = 0; i < 3; i++) {
    if (have[i]! !== need[i]!) return have[i]! > need[i]!;
  }
  return true;
}

export interface VersionCheckOptions {
  timeoutMs: number;
  /** Nodes that do not answer are let through (not started yet, or checked elsewhere). */
  allowUnreachable: boolean;
  /** The request field the addresses came from. */
  field?: string;
}

/** Refuses (400, naming node and version) nodes running a Kvrocks older than the minimum. */
export async function assertKvrocksVersions(
  addrs: readonly string[],
  password: string,
  options: VersionCheckOptions,
): Promise<void> {
  const problems = await Promise.all(
    addrs.map(async (addr) => {
      let version: string;
      try {
        version = await withNode(addr, { password, timeoutMs: options.timeoutMs }, (client) =>
          readKvrocksVersion(client),
        );
      } catch (err) {
        if (options.allowUnreachable) return null;
        return `node ${addr}: cannot read its Kvrocks version (${errorMessage(err)})`;
      }
      if (supportedVersion(version)) return null;
      return `node ${addr} runs Kvrocks ${version}, older than ${MIN_KVROCKS_VERSION} (send X-Dont-Check-Kvrocks-Version: yes to add it anyway)`;
    }),
  );
  const refused = problems.filter((p): p is string => p !== null);
  if (refused.length > 0) throw invalid(refused.join("; "), options.field ?? "nodes");
}
