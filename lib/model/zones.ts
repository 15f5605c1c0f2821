// A node as the API takes it where zones matter: upstream's bare `host:port`, or ours, the
// address with the zone beside it. Both read into the same two lists the core works on.
import { z } from "zod";
import { Addr, canonicalAddr, Zone } from "./names.js";

export const NodeInput = z.union([Addr, z.object({ addr: Addr, zone: Zone.optional() }).strict()]);
export type NodeInput = z.infer<typeof NodeInput>;

/** Canonical address -> zone, for the nodes a request gave a zone. */
export type ZoneMap = Record<string, string>;

/** The addresses in order, and the zones given beside them. */
export function nodeSpecs(inputs: readonly NodeInput[]): { nodes: string[]; zones: ZoneMap } {
  const zones: ZoneMap = {};
  const nodes = inputs.map((input) => {
    if (typeof input === "string") return input;
    if (input.zone !== undefined) zones[canonicalAddr(input.addr)] = input.zone;
    return input.addr;
  });
  return { nodes, zones };
}

export function zoneIn(zones: ZoneMap | undefined, addr: string): string | undefined {
  return zones?.[canonicalAddr(addr)];
}
