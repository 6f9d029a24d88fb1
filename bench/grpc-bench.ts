// The gRPC serving layer's cost per request, alone: the member's GrpcServer (src/server/grpc)
// against a bare node:http2 handler (the floor: same protobuf decode and encode, no gRPC
// machinery) and, for reference, @grpc/grpc-js's server, which the member used before.
//
//   npm run bench:grpc [-- --reps N --requests N --concurrency N --connections N --json]
//
// Every stack serves etcd's KV Put and Range with fixed answers (no store, no Raft), through
// the KV service definition the member uses, so what differs is only the serving layer. Each
// run starts the stack in a child process of its own and the load in another: a raw
// node:http2 client sending pre-encoded Put and Range requests alternately, `concurrency`
// calls in flight over `connections` connections. The server child's CPU (process.cpuUsage,
// user + system) is measured over the timed part only, after a warm-up, so the client's CPU
// is never counted. Stacks take turns run by run (order rotating), so drift and other load
// on the machine hit them alike. Prints, per stack, req/s and server CPU µs per request:
// median and range over the runs. Numbers, not a test. Run it under
// `flock /tmp/ordo-bench.lock` when others benchmark on the same machine.
import { type ChildProcess, fork } from "node:child_process";
import {
  type ClientHttp2Session,
  connect,
  createServer as createHttp2Server,
  type ServerHttp2Stream,
} from "node:http2";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { serviceDefinition } from "../src/api/index.js";
import { stderrProgress } from "../src/cli/progress.js";
import { GrpcServer } from "../src/server/grpc/server.js";

const STACKS = ["bare-http2", "lean", "grpc-js"] as const;
type Stack = (typeof STACKS)[number];

const { values } = parseArgs({
  options: {
    role: { type: "string", default: "main" },
    stack: { type: "string", default: "lean" },
    port: { type: "string", default: "0" },
    reps: { type: "string", default: "5" },
    requests: { type: "string", default: "20000" },
    warmup: { type: "string", default: "3000" },
    concurrency: { type: "string", default: "32" },
    connections: { type: "string", default: "4" },
    json: { type: "boolean", default: false },
    progress: { type: "boolean", default: false },
  },
});

function boundedInt(text: string, flag: string, lo: number, hi: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < lo || n > hi)
    throw new Error(`${flag} must be an integer in ${lo}..${hi}`);
  return n;
}

const KV = serviceDefinition("KV");
const PUT = KV.Put!;
const RANGE = KV.Range!;
const HEADER = { cluster_id: "1", member_id: "2", revision: "42", raft_term: "3" };
const PUT_RESPONSE = { header: HEADER };
const RANGE_RESPONSE = {
  header: HEADER,
  kvs: [
    {
      key: Buffer.from("bench-key"),
      value: Buffer.alloc(100, 0x61),
      create_revision: "41",
      mod_revision: "42",
      version: "2",
      lease: "0",
    },
  ],
  count: "1",
  more: false,
};

/** The handlers every stack runs: decode the request, answer a fixed response. */
const handlers: grpc.UntypedServiceImplementation = {
  Put: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, PUT_RESPONSE),
  Range: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, RANGE_RESPONSE),
};

// ---- server child -----------------------------------------------------------------------------

/** The floor: node:http2 with gRPC's framing done by hand, same (de)serialization. */
function startBare(): Promise<number> {
  const headers = { ":status": 200, "content-type": "application/grpc+proto" };
  const trailers = { "grpc-status": "0" };
  const server = createHttp2Server({ settings: { maxConcurrentStreams: 2 ** 32 - 1 } });
  server.on("stream", (stream: ServerHttp2Stream, h) => {
    stream.on("error", () => {});
    const method = h[":path"] === PUT.path ? PUT : RANGE;
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      method.requestDeserialize(body.subarray(5));
      const payload = method.responseSerialize(method === PUT ? PUT_RESPONSE : RANGE_RESPONSE);
      const frame = Buffer.allocUnsafe(5 + payload.length);
      frame[0] = 0;
      frame.writeUInt32BE(payload.length, 1);
      payload.copy(frame, 5);
      stream.once("wantTrailers", () => stream.sendTrailers(trailers));
      stream.respond(headers, { waitForTrailers: true });
      stream.end(frame);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
}

async function startLean(): Promise<number> {
  const server = new GrpcServer({ receiveMessageBytesMax: 2 * 1024 * 1024 });
  server.addService(KV, handlers);
  return server.listen(0, "127.0.0.1");
}

function startGrpcJs(): Promise<number> {
  const server = new grpc.Server({ "grpc.max_receive_message_length": 2 * 1024 * 1024 });
  server.addService(KV, handlers);
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) =>
      e === null ? resolve(port) : reject(e),
    ),
  );
}

async function serverRole(stack: Stack): Promise<void> {
  const port =
    stack === "bare-http2"
      ? await startBare()
      : stack === "lean"
        ? await startLean()
        : await startGrpcJs();
  let started: NodeJS.CpuUsage | undefined;
  process.on("message", (m: { type: string }) => {
    if (m.type === "cpu-start") {
      started = process.cpuUsage();
      process.send?.({ type: "cpu-started" });
    } else if (m.type === "cpu-stop") {
      const used = process.cpuUsage(started);
      process.send?.({ type: "cpu", us: used.user + used.system });
    } else if (m.type === "exit") {
      process.exit(0);
    }
  });
  process.send?.({ type: "ready", port });
}

// ---- client child -----------------------------------------------------------------------------

function encodeRequest(method: grpc.MethodDefinition<unknown, unknown>, message: object): Buffer {
  const payload = method.requestSerialize(message);
  const frame = Buffer.allocUnsafe(5 + payload.length);
  frame[0] = 0;
  frame.writeUInt32BE(payload.length, 1);
  payload.copy(frame, 5);
  return frame;
}

async function clientRole(port: number): Promise<void> {
  const requests = boundedInt(values.requests, "--requests", 100, 10_000_000);
  const warmup = boundedInt(values.warmup, "--warmup", 0, 10_000_000);
  const concurrency = boundedInt(values.concurrency, "--concurrency", 1, 10_000);
  const connections = boundedInt(values.connections, "--connections", 1, 1_000);
  const putFrame = encodeRequest(PUT, { key: Buffer.from("bench-key"), value: Buffer.alloc(100) });
  const rangeFrame = encodeRequest(RANGE, { key: Buffer.from("bench-key") });
  const sessions: ClientHttp2Session[] = [];
  for (let i = 0; i < connections; i++) {
    const s = connect(`http://127.0.0.1:${port}`);
    s.on("error", (e) => {
      throw e;
    });
    sessions.push(s);
  }
  let failures = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const put = i % 2 === 0;
      const stream = sessions[i % connections]!.request({
        ":method": "POST",
        ":path": put ? PUT.path : RANGE.path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let ok = false;
      stream.on("response", (h) => {
        if (h["grpc-status"] !== undefined) ok = h["grpc-status"] === "0";
      });
      stream.on("trailers", (t) => {
        ok = t["grpc-status"] === "0";
      });
      stream.on("data", () => {});
      stream.on("error", () => {});
      stream.on("close", () => {
        if (!ok) failures += 1;
        resolve();
      });
      stream.end(put ? putFrame : rangeFrame);
    });
  const run = async (count: number): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      // Bounded: each turn takes one of `count` requests.
      while (next < count) {
        const i = next++;
        await one(i);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };
  await run(warmup);
  await new Promise<void>((resolve) => {
    process.once("message", () => resolve());
    process.send?.({ type: "warm" });
  });
  const t0 = performance.now();
  await run(requests);
  const elapsedMs = performance.now() - t0;
  for (const s of sessions) s.close();
  process.send?.({ type: "done", elapsedMs, requests, failures });
}

// ---- main -------------------------------------------------------------------------------------

interface Sample {
  readonly reqPerSec: number;
  readonly cpuUsPerReq: number;
}

const self = fileURLToPath(import.meta.url);

function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }): void => {
      if (m.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null): void =>
      reject(new Error(`bench child exited (${code}) before sending ${type}`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

async function runOnce(stack: Stack): Promise<Sample> {
  const server = fork(self, ["--role", "server", "--stack", stack], { stdio: "inherit" });
  try {
    const { port } = await next<{ port: number }>(server, "ready");
    const args = ["--role", "client", "--port", String(port)];
    for (const k of ["requests", "warmup", "concurrency", "connections"] as const)
      args.push(`--${k}`, values[k]);
    const client = fork(self, args, { stdio: "inherit" });
    try {
      await next(client, "warm");
      server.send({ type: "cpu-start" });
      await next(server, "cpu-started");
      client.send({ type: "go" });
      const done = await next<{ elapsedMs: number; requests: number; failures: number }>(
        client,
        "done",
      );
      server.send({ type: "cpu-stop" });
      const { us } = await next<{ us: number }>(server, "cpu");
      if (done.failures > 0) throw new Error(`${stack}: ${done.failures} calls failed`);
      return {
        reqPerSec: (done.requests / done.elapsedMs) * 1000,
        cpuUsPerReq: us / done.requests,
      };
    } finally {
      client.kill();
    }
  } finally {
    server.send({ type: "exit" });
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function main(): Promise<void> {
  const reps = boundedInt(values.reps, "--reps", 1, 100);
  const samples = new Map<Stack, Sample[]>(STACKS.map((s) => [s, []]));
  const progress = stderrProgress("bench:grpc runs", "count", values);
  for (let rep = 0; rep < reps; rep++) {
    for (let k = 0; k < STACKS.length; k++) {
      const stack = STACKS[(rep + k) % STACKS.length]!;
      const sample = await runOnce(stack);
      samples.get(stack)!.push(sample);
      if (!values.json)
        progress.log(
          `rep ${rep + 1}/${reps} ${stack.padEnd(10)} ${sample.reqPerSec.toFixed(0)} req/s  ${sample.cpuUsPerReq.toFixed(1)} µs/req`,
        );
      progress.update(rep * STACKS.length + k + 1, reps * STACKS.length, stack);
    }
  }
  progress.done();
  const summary: Record<string, unknown> = {};
  const rows: string[] = [];
  rows.push(
    `${"stack".padEnd(11)} ${"req/s median (min-max)".padEnd(26)} server CPU µs/req median (min-max)`,
  );
  for (const stack of STACKS) {
    const xs = samples.get(stack)!;
    const rps = xs.map((x) => x.reqPerSec);
    const cpu = xs.map((x) => x.cpuUsPerReq);
    summary[stack] = {
      reqPerSecMedian: Math.round(median(rps)),
      reqPerSecMin: Math.round(Math.min(...rps)),
      reqPerSecMax: Math.round(Math.max(...rps)),
      cpuUsPerReqMedian: Number(median(cpu).toFixed(1)),
      cpuUsPerReqMin: Number(Math.min(...cpu).toFixed(1)),
      cpuUsPerReqMax: Number(Math.max(...cpu).toFixed(1)),
    };
    rows.push(
      `${stack.padEnd(11)} ${`${median(rps).toFixed(0)} (${Math.min(...rps).toFixed(0)}-${Math.max(...rps).toFixed(0)})`.padEnd(26)} ${median(cpu).toFixed(1)} (${Math.min(...cpu).toFixed(1)}-${Math.max(...cpu).toFixed(1)})`,
    );
  }
  const config = `requests ${values.requests}/run after ${values.warmup} warm-up, concurrency ${values.concurrency} over ${values.connections} connections, ${reps} runs per stack`;
  if (values.json) console.log(JSON.stringify({ config, ...summary }));
  else console.log(`${config}\n${rows.join("\n")}`);
}

if (values.role === "server") await serverRole(values.stack as Stack);
else if (values.role === "client") await clientRole(boundedInt(values.port, "--port", 1, 65_535));
else await main();
