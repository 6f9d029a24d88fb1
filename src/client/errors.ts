// The client's one error type: a gRPC status code and etcd's message.
export class KvClientError extends Error {
  override readonly name = "KvClientError";
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}
