// Health as badges: what the probe last recorded.
import { badge } from "./dom.js";
import type { ClusterHealth, ClusterJson, NodeHealth, Soft } from "./types.js";
import { isFailed } from "./types.js";

export function healthBadges(
  health: Soft<ClusterHealth> | null,
  cluster: ClusterJson | null,
): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (!health || isFailed(health)) return [badge("health unknown", "muted")];
  if (health.nodes_down > 0) out.push(badge(`${health.nodes_down} down`, "bad"));
  if (health.safe_mode) out.push(badge("safe mode", "warn"));
  if (health.nodes_behind > 0) out.push(badge(`${health.nodes_behind} behind`, "warn"));
  if (out.length === 0) {
    if (health.nodes.some((n) => !n.probed)) out.push(badge("not probed yet", "muted"));
    else out.push(badge("healthy", "ok"));
  }
  if (cluster?.shards.some((s) => s.migrating_slot)) out.push(badge("migrating", "info"));
  return out;
}

export function nodeState(n: NodeHealth | undefined): HTMLElement {
  if (!n) return badge("unknown", "muted");
  if (!n.up) return badge("down", "bad");
  if (!n.probed) return badge("not probed", "muted");
  return badge("up", "ok");
}

export function healthById(health: Soft<ClusterHealth> | null): Map<string, NodeHealth> {
  const map = new Map<string, NodeHealth>();
  if (health && !isFailed(health)) for (const n of health.nodes) map.set(n.id, n);
  return map;
}
