// Every simulated node of this process, by "host:port": how a replica finds its master
// and a migrating source finds its target, as real nodes find each other on the network.

import type { KvrocksNode } from "./node.js";

const nodes = new Map<string, KvrocksNode>();

export const registerNode = (node: KvrocksNode): void => {
  nodes.set(`${node.config.host}:${node.config.port}`, node);
};

export const unregisterNode = (node: KvrocksNode): void => {
  const key = `${node.config.host}:${node.config.port}`;
  if (nodes.get(key) === node) nodes.delete(key);
};

export const lookupNode = (host: string, port: number): KvrocksNode | undefined =>
  nodes.get(`${host}:${port}`);

export const allNodes = (): KvrocksNode[] => [...nodes.values()];
