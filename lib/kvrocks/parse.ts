// Parsers for the text replies of CLUSTER INFO, CLUSTER NODES and INFO. A reply that does
// not parse throws; callers turn that into a failed probe, never a crash.
import { z } from "zod";
import { parseSlotRange, type SlotRange } from "../slots/index.js";

/** `key:value` lines; Kvrocks puts a space after some colons (`migrating_slot(s): 1-2`). */
function parseFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.indexOf(":");
    if (at <= 0) continue;
    fields.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return fields;
}

const int = z.coerce.number().int();

function parseRangeList(text: string): SlotRange[] {
  return text
    .split(/[\s,]+/)
    .filter((part) => part !== "")
    .map((part) => parseSlotRange(part));
}

export const MigrationState = z.enum(["none", "start", "success", "fail"]);
export const ImportState = z.enum(["none", "start", "success", "error", "fail"]);

export const ClusterInfo = z.object({
  state: z.string(),
  slotsAssigned: int,
  knownNodes: int,
  currentEpoch: int,
  myEpoch: int,
  migrating: z
    .object({
      ranges: z.array(z.custom<SlotRange>()),
      destination: z.string(),
      state: MigrationState,
    })
    .nullable(),
  importing: z.object({ ranges: z.array(z.custom<SlotRange>()), state: ImportState }).nullable(),
});
export type ClusterInfo = z.infer<typeof ClusterInfo>;

export function parseClusterInfo(text: string): ClusterInfo {
  const f = parseFields(text);
  const migratingText = f.get("migrating_slot(s)") ?? f.get("migrating_slot");
  const importingText = f.get("importing_slot(s)") ?? f.get("importing_slot");
  return ClusterInfo.parse({
    state: f.get("cluster_state"),
    slotsAssigned: f.get("cluster_slots_assigned"),
    knownNodes: f.get("cluster_known_nodes"),
    currentEpoch: f.get("cluster_current_epoch"),
    myEpoch: f.get("cluster_my_epoch"),
    migrating:
      migratingText === undefined
        ? null
        : {
            ranges: parseRangeList(migratingText),
            destination: f.get("destination_node") ?? "",
            state: f.get("migrating_state") ?? "none",
          },
    importing:
      importingText === undefined
        ? null
        : { ranges: parseRangeList(importingText), state: f.get("import_state") ?? "none" },
  });
}

export const NodeLine = z.object({
  id: z.string().length(40),
  addr: z.string(),
  myself: z.boolean(),
  role: z.enum(["master", "slave"]),
  masterId: z.string().nullable(),
  version: int,
  slots: z.array(z.custom<SlotRange>()),
  /** `[0-4095->-<dst>]` while a migration runs. */
  migratingTo: z.string().nullable(),
});
export type NodeLine = z.infer<typeof NodeLine>;

/** `<id> <host>:<port>@<cport> [myself,]master|slave <master-id>|- <ping> <pong> <epoch> connected [<range> ...]` */
export function parseClusterNodes(text: string): NodeLine[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const words = line.trim().split(/\s+/);
      if (words.length < 8) throw new Error(`CLUSTER NODES line has too few fields: ${line}`);
      const [id, address, flagText, master, , , epoch] = words as [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      const flags = flagText.split(",");
      const slots: SlotRange[] = [];
      let migratingTo: string | null = null;
      for (const word of words.slice(8)) {
        const migration = /^\[(.+)->-(.+)\]$/.exec(word);
        if (migration) {
          migratingTo = migration[2] ?? null;
          continue;
        }
        // `[100-200-<-<src>]` on a node importing a range: not a slot it owns.
        if (/^\[.+-<-.+\]$/.test(word)) continue;
        slots.push(parseSlotRange(word));
      }
      return NodeLine.parse({
        id,
        addr: address.split("@")[0],
        myself: flags.includes("myself"),
        role: flags.includes("master") ? "master" : flags.includes("slave") ? "slave" : flagText,
        masterId: master === "-" ? null : master,
        version: epoch,
        slots,
        migratingTo,
      });
    });
}

export const ReplicationInfo = z.object({
  role: z.enum(["master", "slave"]),
  masterHost: z.string().nullable(),
  masterPort: int.nullable(),
  masterLinkUp: z.boolean(),
  syncInProgress: z.boolean(),
  slaveReplOffset: int,
  masterReplOffset: int,
  connectedSlaves: int,
  /** RocksDB's latest sequence (`# Keyspace`): how much data the node has. */
  sequence: int,
});
export type ReplicationInfo = z.infer<typeof ReplicationInfo>;

export function parseReplicationInfo(text: string): ReplicationInfo {
  const f = parseFields(text);
  return ReplicationInfo.parse({
    role: f.get("role"),
    masterHost: f.get("master_host") ?? null,
    masterPort: f.get("master_port") ?? null,
    masterLinkUp: f.get("master_link_status") === "up",
    syncInProgress: f.get("master_sync_in_progress") === "1",
    slaveReplOffset: f.get("slave_repl_offset") ?? 0,
    masterReplOffset: f.get("master_repl_offset") ?? 0,
    connectedSlaves: f.get("connected_slaves") ?? 0,
    sequence: f.get("sequence") ?? 0,
  });
}

export const NodeInfo = z.object({
  version: z.string(),
  uptimeSeconds: int,
  usedMemoryBytes: int,
  usedDiskBytes: int,
  /**
   * RocksDB's estimate for the metadata column family, one entry per key: `db0:keys` and
   * DBSIZE stay 0 until a `DBSIZE SCAN` has run, so this is the count that is always there.
   */
  keys: int,
  opsPerSec: int,
  connectedClients: int,
  role: z.enum(["master", "slave"]),
  /** RocksDB's latest sequence: writes applied, the same count on a master and its replicas. */
  sequence: int,
  masterReplOffset: int,
  loading: z.boolean(),
});
export type NodeInfo = z.infer<typeof NodeInfo>;

/**
 * The full `INFO` answer. A loading node omits Replication, Keyspace and RocksDB: those read
 * as 0 (role master), and `loading` says why.
 */
export function parseNodeInfo(text: string): NodeInfo {
  const f = parseFields(text);
  return NodeInfo.parse({
    version: f.get("kvrocks_version") ?? f.get("version"),
    uptimeSeconds: f.get("uptime_in_seconds"),
    usedMemoryBytes: f.get("used_memory_rss"),
    usedDiskBytes: f.get("used_disk_size") ?? 0,
    keys: f.get("estimate_keys[metadata]") ?? 0,
    opsPerSec: f.get("instantaneous_ops_per_sec"),
    connectedClients: f.get("connected_clients"),
    role: f.get("role") ?? "master",
    sequence: f.get("sequence") ?? 0,
    masterReplOffset: f.get("master_repl_offset") ?? 0,
    loading: f.get("loading") === "1",
  });
}
