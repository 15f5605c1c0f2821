// Every etcd key the controller reads or writes is built here, from one prefix. The
// metadata layout is apache/kvrocks-controller's, so its data reads back unchanged.

export const DEFAULT_PREFIX = "/kvrocks";

export interface ClusterRef {
  namespace: string;
  cluster: string;
}

export type StoreKeys = ReturnType<typeof storeKeys>;

export function storeKeys(prefix = DEFAULT_PREFIX) {
  const root = prefix.replace(/\/+$/, "");
  const metadata = `${root}/metadata/`;
  const state = `${root}/state/`;
  // Claims live outside state/: namespace names are upstream's (anything but '/', control
  // characters and the like), so no subtree name inside state/ is safe from a namespace.
  const claims = `${root}/claims/`;
  const locks = `${root}/locks/`;

  return {
    /** All namespace and cluster keys (namespaces are the ones with no further '/'). */
    metadataPrefix: () => metadata,
    namespace: (ns: string) => `${metadata}${ns}`,
    clustersPrefix: (ns: string) => `${metadata}${ns}/cluster/`,
    cluster: (ns: string, name: string) => `${metadata}${ns}/cluster/${name}`,

    /** Everything we keep about one cluster besides its topology; deleted with it. */
    clusterStatePrefix: (ns: string, cluster: string) => `${state}${ns}/${cluster}/`,
    /** Everything under state/: every cluster's probe state, tasks and history. */
    stateRoot: () => state,
    probeState: (ns: string, cluster: string) => `${state}${ns}/${cluster}/probe`,
    tasksPrefix: (ns: string, cluster: string) => `${state}${ns}/${cluster}/tasks/`,
    task: (ns: string, cluster: string, id: string) => `${state}${ns}/${cluster}/tasks/${id}`,
    historyPrefix: (ns: string, cluster: string) => `${state}${ns}/${cluster}/history/`,
    history: (ns: string, cluster: string, entry: string) =>
      `${state}${ns}/${cluster}/history/${entry}`,

    /** Every cluster's claims document: one range compare guards them all. */
    claimsPrefix: () => claims,
    /** A cluster's claims document: the JSON list of its node addresses. */
    claims: (ns: string, cluster: string) => `${claims}${ns}/${cluster}`,

    locksPrefix: () => locks,
    lock: (...parts: string[]) => `${locks}${parts.join("/")}`,
    probeLock: (ns: string, cluster: string) => `${locks}probe/${ns}/${cluster}`,
    /** Held while a planned switchover of the cluster pushes its topology in order. */
    switchover: (ns: string, cluster: string) => `${locks}switchover/${ns}/${cluster}`,
    /** Every cluster's probe ownership key (`probeLock`), for one range read per round. */
    probeLocksPrefix: () => `${locks}probe/`,
    /** The cluster a key under `probeLocksPrefix()` names, or null. */
    parseProbeLockKey(key: string): ClusterRef | null {
      const head = `${locks}probe/`;
      if (!key.startsWith(head)) return null;
      const parts = key.slice(head.length).split("/");
      if (parts.length !== 2 || !parts[0] || !parts[1]) return null;
      return { namespace: parts[0], cluster: parts[1] };
    },
    /** Live probe invocations, each key under its invocation's lease. */
    probeInvocationsPrefix: () => `${root}/probe/invocations/`,
    probeInvocation: (id: string) => `${root}/probe/invocations/${id}`,
    /**
     * Observer quorum: a suspected master's suspicion (under its owner's lease) and the
     * witnesses' votes on it (each under its witness's lease). Empty while all is healthy.
     */
    quorumPrefix: () => `${root}/probe/quorum/`,
    clusterQuorumPrefix: (ns: string, cluster: string) => `${root}/probe/quorum/${ns}/${cluster}/`,
    masterQuorumPrefix: (ns: string, cluster: string, master: string) =>
      `${root}/probe/quorum/${ns}/${cluster}/${master}/`,
    suspicion: (ns: string, cluster: string, master: string) =>
      `${root}/probe/quorum/${ns}/${cluster}/${master}/suspicion`,
    vote: (ns: string, cluster: string, master: string, lease: string) =>
      `${root}/probe/quorum/${ns}/${cluster}/${master}/votes/${lease}`,

    /** The cluster a key under `metadataPrefix()` names, or null for any other key. */
    parseClusterKey(key: string): ClusterRef | null {
      if (!key.startsWith(metadata)) return null;
      const parts = key.slice(metadata.length).split("/");
      if (parts.length !== 3 || parts[1] !== "cluster" || !parts[0] || !parts[2]) return null;
      return { namespace: parts[0], cluster: parts[2] };
    },

    /** The namespace a key under `metadataPrefix()` names, or null for any other key. */
    parseNamespaceKey(key: string): string | null {
      if (!key.startsWith(metadata)) return null;
      const rest = key.slice(metadata.length);
      return rest.length > 0 && !rest.includes("/") ? rest : null;
    },
  };
}

export function ownerString(ref: ClusterRef): string {
  return `${ref.namespace}/${ref.cluster}`;
}

export function parseOwner(value: string): ClusterRef | null {
  const at = value.indexOf("/");
  if (at <= 0 || at === value.length - 1 || value.indexOf("/", at + 1) !== -1) return null;
  return { namespace: value.slice(0, at), cluster: value.slice(at + 1) };
}
