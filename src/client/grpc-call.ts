// The one way the client makes a unary gRPC call and builds its service stubs: grpc-js's
// generated clients are looked up by method name, so the call goes through one typed shape.
import * as grpc from "@grpc/grpc-js";
import { serviceClient } from "../api/index.js";

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, res: unknown) => void,
) => void;

/** One unary call of `method` on `client`, no retry; rejects with grpc-js's ServiceError. */
export function callUnary(
  client: grpc.Client,
  method: string,
  request: unknown,
  metadata: grpc.Metadata,
  deadline: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, Unary>)[method] as Unary;
    fn.call(client, request, metadata, { deadline }, (e, res) => (e ? reject(e) : resolve(res)));
  });
}

/** A stub of etcd's `service` on each channel (they share the channels' connections). */
export function stubsOf(
  service: Parameters<typeof serviceClient>[0],
  channels: readonly grpc.Channel[],
  interceptors: grpc.Interceptor[] = [],
): grpc.Client[] {
  const Ctor = serviceClient(service);
  return channels.map(
    (channel) =>
      new Ctor("unused", grpc.credentials.createInsecure(), {
        channelOverride: channel,
        interceptors,
      }),
  );
}
