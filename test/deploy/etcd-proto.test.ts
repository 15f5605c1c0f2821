// The bundles' etcd3 codecs (deploy/etcd-proto.ts: protobufjs's generated code written into the
// bundle) against what etcd3 gets from @grpc/proto-loader outside a bundle: the same services,
// methods and names, and for every message of every method the same bytes and the same
// decoded objects, on generated messages.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { runInThisContext } from "node:vm";
import fc from "fast-check";
import type * as Protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { etcdProtoModule, loadEtcdRoot, protoLoaderDir } from "../../deploy/etcd-proto.js";
import { ROOT } from "./helpers.js";

// etcd3's options (node_modules/etcd3/lib/connection-pool.js).
const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  originalName: string;
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}
type Definition = Record<string, Record<string, MethodDefinition>>;

const loaderRequire = createRequire(join(protoLoaderDir(ROOT), "package.json"));

function bundled(): Definition {
  const module = { exports: {} as { loadSync(file: null, options: object): Definition } };
  const source = etcdProtoModule(ROOT);
  runInThisContext(`(function (exports, require, module) {${source}\n})`)(
    module.exports,
    loaderRequire,
    module,
  );
  return module.exports.loadSync(null, OPTIONS);
}

function protoLoader(): Definition {
  const etcdRequire = createRequire(join(ROOT, "package.json"));
  const proto = join(dirname(etcdRequire.resolve("etcd3")), "..", "proto", "rpc.proto");
  const loader = loaderRequire("@grpc/proto-loader") as {
    loadSync(file: string, options: object): Record<string, unknown>;
  };
  const all = loader.loadSync(proto, OPTIONS);
  // Services only: message entries carry `format` (what grpc-js tells them apart by).
  return Object.fromEntries(
    Object.entries(all).filter(([, v]) => !("format" in (v as object))),
  ) as Definition;
}

/** Messages of `type` as etcd3 passes them: strings for 64-bit integers, enum names, Buffers. */
function messageOf(type: Protobuf.Type, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of type.fieldsArray) {
    field.resolve();
    let value: fc.Arbitrary<unknown>;
    const resolved = field.resolvedType;
    if (resolved !== null && "fieldsArray" in resolved) {
      if (depth >= 2) continue;
      value = messageOf(resolved as Protobuf.Type, depth + 1);
    } else if (resolved !== null) {
      value = fc.constantFrom(...Object.keys((resolved as Protobuf.Enum).values));
    } else {
      switch (field.type) {
        case "string":
          value = fc.string();
          break;
        case "bytes":
          value = fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a));
          break;
        case "bool":
          value = fc.boolean();
          break;
        case "int64":
        case "sint64":
        case "sfixed64":
          value = fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String);
          break;
        case "uint64":
        case "fixed64":
          value = fc.bigInt(0n, 2n ** 64n - 1n).map(String);
          break;
        case "uint32":
        case "fixed32":
          value = fc.nat();
          break;
        case "double":
        case "float":
          value = fc.integer();
          break;
        default:
          value = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
      }
    }
    fields[field.name] = field.repeated ? fc.array(value, { maxLength: 3 }) : value;
  }
  return fc.record(fields, { requiredKeys: [] });
}

describe("the bundle's etcd3 codecs", () => {
  const ours = bundled();
  const theirs = protoLoader();
  const root = loadEtcdRoot(ROOT);

  it("define the services, methods, paths and names proto-loader defines", () => {
    const shape = (d: Definition) =>
      Object.fromEntries(
        Object.entries(d).map(([service, methods]) => [
          service,
          Object.fromEntries(
            Object.entries(methods).map(([name, m]) => [
              name,
              [m.path, m.requestStream, m.responseStream, m.originalName],
            ]),
          ),
        ]),
      );
    expect(shape(ours)).toEqual(shape(theirs));
    expect(Object.keys(ours)).toContain("etcdserverpb.KV");
  });

  it("encode and decode every message of every method as proto-loader's do", () => {
    let checked = 0;
    for (const [service, methods] of Object.entries(theirs)) {
      const protoService = root.lookupService(service);
      for (const [name, their] of Object.entries(methods)) {
        const our = ours[service]![name]!;
        const method = protoService.methods[name]!;
        for (const side of ["request", "response"] as const) {
          const type =
            side === "request" ? method.resolvedRequestType! : method.resolvedResponseType!;
          const serialize = `${side}Serialize` as const;
          const deserialize = `${side}Deserialize` as const;
          fc.assert(
            fc.property(messageOf(type), (message) => {
              const bytes = their[serialize](message);
              expect(Buffer.from(our[serialize](message))).toEqual(Buffer.from(bytes));
              expect(our[deserialize](bytes)).toEqual(their[deserialize](bytes));
            }),
            { numRuns: 25 },
          );
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(60);
  });
});
