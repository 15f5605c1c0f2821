// What etcd3 gets in a bundle in place of @grpc/proto-loader (see deploy/bundle.ts): its gRPC
// services as grpc-js reads them, with every message's codec generated here, at bundle time,
// as source code.
//
// Why: at start etcd3 had proto-loader parse its `.proto` text, build a protobufjs reflection
// object for each of ~100 types, a descriptor and an encoded FileDescriptorProto for each (for
// gRPC reflection, which etcd3 never uses), and protobufjs then generated each codec at its
// first use with `new Function`: most of a cold start. Here protobufjs generates the same codec
// functions (its own `encoder`, `decoder`, `converter` and constructor code generators, as
// protobufjs's static code generator does) from the same `.proto` files and they are written
// into the bundle as plain functions, so nothing is parsed, reflected or generated at run time,
// and V8's code cache holds them like the rest of the bundle. At run time they need only
// protobufjs's minimal runtime (Reader, Writer, util). The (de)serialisers are proto-loader's
// (`fromObject` then `encode`; `decode` then `toObject` with etcd3's options), so grpc-js calls
// exactly what it called before; a test compares them on every message type.
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import type * as Protobuf from "protobufjs";

export interface EtcdMethod {
  name: string;
  /** grpc-js's second name for the method, camelCase, by which etcd3 calls it. */
  originalName: string;
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestType: string;
  responseType: string;
}

/**
 * The directory of the proto-loader etcd3 loads: the generated module's `protobufjs/minimal`
 * is resolved from here, so it is the protobufjs proto-loader would have used.
 */
export function protoLoaderDir(root: string): string {
  const req = createRequire(join(root, "package.json"));
  const etcd3 = dirname(req.resolve("etcd3"));
  return dirname(req.resolve("@grpc/proto-loader", { paths: [etcd3] }));
}

/** A package as proto-loader resolves it (protobufjs, lodash.camelcase). */
function etcdDependency(root: string, id: string): unknown {
  const req = createRequire(join(root, "package.json"));
  return req(req.resolve(id, { paths: [protoLoaderDir(root)] }));
}

/** etcd3's `.proto` files, parsed as etcd3 loads them (`keepCase`), every type resolved. */
export function loadEtcdRoot(root: string): Protobuf.Root {
  const protobuf = etcdDependency(root, "protobufjs") as typeof Protobuf;
  const req = createRequire(join(root, "package.json"));
  const protoDir = join(dirname(req.resolve("etcd3")), "..", "proto");
  const rootNs = new protobuf.Root();
  rootNs.resolvePath = (_origin, target) => resolve(protoDir, target);
  rootNs.loadSync("rpc.proto", { keepCase: true });
  rootNs.resolveAll();
  return rootNs;
}

/** Every service's methods, by the service's full name, as grpc-js names them. */
export function etcdServices(rootNs: Protobuf.Root, root: string): Record<string, EtcdMethod[]> {
  const protobuf = etcdDependency(root, "protobufjs") as typeof Protobuf;
  const camelCase = etcdDependency(root, "lodash.camelcase") as (s: string) => string;
  const services: Record<string, EtcdMethod[]> = {};
  const visit = (ns: Protobuf.NamespaceBase, prefix: string) => {
    for (const obj of ns.nestedArray) {
      const name = prefix ? `${prefix}.${obj.name}` : obj.name;
      if (obj instanceof protobuf.Service) {
        services[name] = obj.methodsArray.map((m) => ({
          name: m.name,
          originalName: camelCase(m.name),
          path: `/${name}/${m.name}`,
          requestStream: !!m.requestStream,
          responseStream: !!m.responseStream,
          requestType: m.resolvedRequestType!.fullName.slice(1),
          responseType: m.resolvedResponseType!.fullName.slice(1),
        }));
      } else if (obj instanceof protobuf.Namespace) {
        visit(obj, name);
      }
    }
  };
  visit(rootNs, "");
  return services;
}

/**
 * The module's source (CommonJS). Each message type is an object with `ctor`, `encode`,
 * `decode`, `fromObject` and `toObject`, called as methods (the generated code reads
 * `this.ctor`), and the generated code's free names bound as protobufjs binds them: `types`
 * (the type of each field, in field order), `util`, `Reader`, `Writer`. An enum has `values`, by name
 * and by number, as protobufjs's `Enum.values` reads.
 */
export function etcdProtoModule(root: string): string {
  const protobuf = etcdDependency(root, "protobufjs") as typeof Protobuf & {
    encoder(t: Protobuf.Type): { toString(): string };
    decoder(t: Protobuf.Type): { toString(): string };
    converter: {
      fromObject(t: Protobuf.Type): { toString(): string };
      toObject(t: Protobuf.Type): { toString(): string };
    };
  };
  const rootNs = loadEtcdRoot(root);
  const services = etcdServices(rootNs, root);
  const all: (Protobuf.Type | Protobuf.Enum)[] = [];
  const visit = (ns: Protobuf.NamespaceBase) => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type || obj instanceof protobuf.Enum) all.push(obj);
      if ("nestedArray" in obj) visit(obj as Protobuf.NamespaceBase);
    }
  };
  visit(rootNs);
  const index = new Map(all.map((t, i) => [t, i]));
  const ref = (t: Protobuf.Type | Protobuf.Enum | null) => {
    if (t === null) return "null";
    const i = index.get(t);
    if (i === undefined) throw new Error(`etcd proto: ${t.fullName} is not in the root`);
    return `$t[${i}]`;
  };
  const out = [
    '"use strict";',
    'const { Reader, Writer, util } = require("protobufjs/minimal");',
    `const $t = Array.from({ length: ${all.length} }, () => ({}));`,
  ];
  for (const [i, t] of all.entries()) {
    if (t instanceof protobuf.Enum) {
      // By name and, as protobufjs's `values` inherits `valuesById`, by number.
      const values: Record<string, string | number> = {};
      for (const [id, name] of Object.entries(t.valuesById)) values[id] = name;
      Object.assign(values, t.values);
      out.push(`$t[${i}].values = ${JSON.stringify(values)};`);
      continue;
    }
    if (protobuf.wrappers[t.fullName] !== undefined) {
      throw new Error(`etcd proto: ${t.fullName} has a protobufjs wrapper, not generated here`);
    }
    const types = t.fieldsArray.map((f) => ref(f.resolve().resolvedType as never));
    out.push(
      `((types) => { const t = $t[${i}];`,
      `t.name = ${JSON.stringify(t.name)};`,
      `t.ctor = ${protobuf.Type.generateConstructor(t).toString()};`,
      `t.encode = ${protobuf.encoder(t).toString()};`,
      `t.decode = ${protobuf.decoder(t).toString()};`,
      `t.fromObject = ${protobuf.converter.fromObject(t).toString()};`,
      `t.toObject = ${protobuf.converter.toObject(t).toString()};`,
      `})([${types.join(", ")}]);`,
    );
  }
  out.push(
    `const byName = { ${all
      .filter((t) => t instanceof protobuf.Type)
      .map((t) => `${JSON.stringify(t.fullName.slice(1))}: ${ref(t)}`)
      .join(", ")} };`,
    `const SERVICES = ${JSON.stringify(services)};`,
    // proto-loader's createSerializer and createDeserializer.
    "function serializer(cls) {",
    "  return function serialize(arg) {",
    "    if (Array.isArray(arg)) {",
    "      throw new Error('Failed to serialize message: expected object with ' + cls.name + ' structure, got array instead');",
    "    }",
    "    return cls.encode(cls.fromObject(arg)).finish();",
    "  };",
    "}",
    "function deserializer(cls, options) {",
    "  return function deserialize(buf) {",
    "    return cls.toObject(cls.decode(buf), options);",
    "  };",
    "}",
    // Called where etcd3 called proto-loader's `loadSync(file, options)`: its services only,
    // which is all grpc-js's `loadPackageDefinition` makes clients of and etcd3 reads.
    "exports.loadSync = function loadSync(_file, options) {",
    "  const definition = {};",
    "  for (const [service, methods] of Object.entries(SERVICES)) {",
    "    const methodsOf = (definition[service] = {});",
    "    for (const m of methods) {",
    "      const req = byName[m.requestType], res = byName[m.responseType];",
    "      methodsOf[m.name] = {",
    "        path: m.path,",
    "        requestStream: m.requestStream,",
    "        responseStream: m.responseStream,",
    "        requestSerialize: serializer(req),",
    "        requestDeserialize: deserializer(req, options),",
    "        responseSerialize: serializer(res),",
    "        responseDeserialize: deserializer(res, options),",
    "        originalName: m.originalName,",
    "      };",
    "    }",
    "  }",
    "  return definition;",
    "};",
  );
  return out.join("\n");
}
