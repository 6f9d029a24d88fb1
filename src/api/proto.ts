// Loads etcd's v3 API definitions (proto/etcd, vendored verbatim) for the server and the client.
// Field names are kept as in the .proto files (snake_case); 64-bit integers come as strings
// (longs: String) so no precision is lost, and are converted at the edges.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** The repository's proto/etcd folder, found from this file's place in src/ or dist/src/. */
function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${join("dist", "src")}`)
    ? join(here, "..", "..", "..")
    : join(here, "..", "..");
  return join(up, "proto", "etcd");
}

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: grpc.GrpcObject | undefined;

export function etcdProto(): {
  etcdserverpb: grpc.GrpcObject;
  mvccpb: grpc.GrpcObject;
  authpb: grpc.GrpcObject;
} {
  if (cached === undefined) {
    const dir = protoDir();
    const definition = protoLoader.loadSync(join(dir, "rpc.proto"), {
      ...PROTO_LOADER_OPTIONS,
      includeDirs: [dir],
    });
    cached = grpc.loadPackageDefinition(definition);
  }
  return {
    etcdserverpb: cached.etcdserverpb as grpc.GrpcObject,
    mvccpb: cached.mvccpb as grpc.GrpcObject,
    authpb: cached.authpb as grpc.GrpcObject,
  };
}

export function serviceDefinition(
  name: "KV" | "Watch" | "Lease" | "Cluster" | "Maintenance" | "Auth",
): grpc.ServiceDefinition {
  const ctor = etcdProto().etcdserverpb[name] as grpc.ServiceClientConstructor;
  return ctor.service;
}

export function serviceClient(
  name: "KV" | "Watch" | "Lease" | "Cluster" | "Maintenance" | "Auth",
): grpc.ServiceClientConstructor {
  return etcdProto().etcdserverpb[name] as grpc.ServiceClientConstructor;
}
