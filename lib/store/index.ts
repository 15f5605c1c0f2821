// The etcd access layer: the only code that talks to etcd.
export {
  closeEtcd,
  createEtcd,
  DEFAULT_CALL_TIMEOUT_MS,
  type EtcdOptions,
  type EtcdTls,
  type EtcdTlsFiles,
  readEtcdTls,
  tlsFailureOf,
  toStoreError,
} from "./client.js";
export { decodeCluster, decodeJson } from "./codec.js";
export type { CorruptDoc, Doc, DocWriteOptions } from "./docs.js";
export { type ClusterRef, DEFAULT_PREFIX, ownerString, type StoreKeys, storeKeys } from "./keys.js";
export {
  type GrantedLease,
  grantLease,
  LeaseKeeper,
  revokeLease,
  revokeLeaseOrThrow,
} from "./lease.js";
export {
  type AcquireOptions,
  acquireLock,
  type Fence,
  fenceCompare,
  type Lock,
  type LockOptions,
  tryLock,
} from "./lock.js";
export {
  claimOwnership,
  handOverOwnership,
  InvocationRecord,
  listMembers,
  listOwners,
  type Member,
  type Owner,
  ownershipFence,
  putMember,
  readProbeSeen,
} from "./ownership.js";
export { type QuorumEntries, Suspicion, Vote } from "./quorum.js";
export {
  CLUSTERS_PER_READ,
  type ClusterRoundRead,
  type RoundReadSchemas,
  TopologyCache,
} from "./rounds.js";
export {
  type ClusterUpdate,
  type ClusterUpdateFn,
  Store,
  type StoredCluster,
  type UpdateOptions,
  type WriteOptions,
} from "./store.js";
export type { Revision } from "./txn.js";
