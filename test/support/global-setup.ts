// One real etcd for the whole test run; each test file isolates itself by key prefix.
import type { TestProject } from "vitest/node";
import { EtcdCluster } from "./etcd.js";

declare module "vitest" {
  export interface ProvidedContext {
    etcdEndpoints: string[];
  }
}

export default async function setup(project: TestProject) {
  const etcd = await EtcdCluster.start(1);
  project.provide("etcdEndpoints", etcd.endpoints);
  return async () => {
    await etcd.stop();
  };
}
