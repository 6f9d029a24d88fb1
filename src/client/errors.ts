// The client's one error type: a gRPC status code and etcd's message.
import * as grpc from "@grpc/grpc-js";

export class KvClientError extends Error {
  override readonly name = "KvClientError";
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Any failure of a call as a KvClientError: a grpc-js ServiceError keeps its code and details. */
export function errorOf(e: unknown): KvClientError {
  if (e instanceof KvClientError) return e;
  const err = e as Partial<grpc.ServiceError>;
  return new KvClientError(err.code ?? grpc.status.UNKNOWN, err.details || String(err.message));
}

/** The member did not answer (or not in time): another endpoint may. */
export function unreachable(e: KvClientError): boolean {
  return e.grpcCode === grpc.status.UNAVAILABLE || e.grpcCode === grpc.status.DEADLINE_EXCEEDED;
}
