// The chaos network: fault-injecting TCP proxies between cluster members, owned by the chaos
// process (no root, no network namespaces). Each member advertises, in --initial-cluster, the
// address of its proxy; it listens for peers on another port (--listen-peer-urls), which only
// the proxy dials. Ordo's peer connections are one-way (the dialer sends, the acceptor only
// answers the handshake), and the dialer's first frame is a Hello naming `from` and `to`
// (transport/handshake.ts), so the proxy of member `to` knows the directed link of every
// connection it carries and applies that link's fault:
//
//   ok       bytes are forwarded as they come
//   delayed  each chunk is held delayMs (± jitterMs), order kept
//   lossy    each chunk resets the connection with probability cutChance (a TCP connection
//            never loses bytes in the middle; a lossy path shows as stalls and resets)
//   stall    bytes stop (the proxy stops reading: TCP flow control pushes back to the sender)
//            and flow again, late, when the link heals: a partition whose packets are delayed
//   reset    open connections are reset and new ones are reset after their Hello
//
// The acceptor's reply always flows back. Everything here is bounded: connections per proxy,
// bytes held per connection (reading pauses past the bound).
import { createServer, type Server, Socket } from "node:net";
import { decodeHello } from "../transport/index.js";

export interface LinkFault {
  /** "stall" or "reset" cut the link; undefined leaves it up. */
  readonly cut?: "stall" | "reset";
  readonly delayMs?: number;
  readonly jitterMs?: number;
  /** Per forwarded chunk, in [0, 1). */
  readonly cutChance?: number;
}

export interface ChaosNetworkOptions {
  /** Member name → the port it really listens on for peers. */
  readonly targets: ReadonlyMap<string, number>;
  /** Member name → the port its proxy listens on (0: any free port). */
  readonly proxyPorts?: ReadonlyMap<string, number>;
  /** Randomness for jitter and lossy cuts (not part of the schedule's determinism). */
  readonly random?: () => number;
}

const HOST = "127.0.0.1";
const CONNECTIONS_MAX = 256;
const HELLO_BYTES_MAX = 4096 + 4;
/** Bytes held for one connection (delay queue) before reading from its sender pauses. */
const HELD_BYTES_MAX = 4 * 1024 * 1024;

const OK: LinkFault = {};

/** One proxied connection: the dialer `from`'s link to member `to`. */
class ProxiedConnection {
  private readonly held: { chunk: Buffer; dueAtMs: number }[] = [];
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readingPaused = false;

  constructor(
    readonly from: string,
    readonly to: string,
    private readonly inbound: Socket,
    private readonly outbound: Socket,
    private readonly network: ChaosNetwork,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes from the dialer, after the hello (which went first, unconditionally). */
  push(chunk: Buffer): void {
    if (this.closed) return;
    const fault = this.network.faultOf(this.from, this.to);
    if (fault.cut === "reset") {
      this.destroy();
      return;
    }
    if ((fault.cutChance ?? 0) > 0 && this.network.random() < (fault.cutChance as number)) {
      this.network.countCut();
      this.destroy();
      return;
    }
    const delay = (fault.delayMs ?? 0) + (fault.jitterMs ?? 0) * this.network.random();
    this.held.push({ chunk, dueAtMs: performance.now() + delay });
    this.heldBytes += chunk.byteLength;
    this.flush();
  }

  /** Sends what is due, unless the link stalls; re-arms the timer for the rest. */
  flush(): void {
    if (this.closed) return;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const fault = this.network.faultOf(this.from, this.to);
    if (fault.cut === "reset") {
      this.destroy();
      return;
    }
    if (fault.cut !== "stall") {
      const now = performance.now();
      while (this.held.length > 0 && (this.held[0] as { dueAtMs: number }).dueAtMs <= now) {
        const { chunk } = this.held.shift() as { chunk: Buffer };
        this.heldBytes -= chunk.byteLength;
        this.outbound.write(chunk);
      }
      const next = this.held[0];
      if (next !== undefined)
        this.timer = setTimeout(() => this.flush(), Math.max(1, next.dueAtMs - now));
    }
    // A stalled link stops reading altogether, so the sender feels it as TCP does.
    const stall = fault.cut === "stall" || this.heldBytes > HELD_BYTES_MAX;
    if (stall && !this.readingPaused) {
      this.readingPaused = true;
      this.inbound.pause();
    } else if (!stall && this.readingPaused) {
      this.readingPaused = false;
      this.inbound.resume();
    }
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.held.length = 0;
    this.inbound.resetAndDestroy();
    this.outbound.resetAndDestroy();
    this.network.forget(this);
  }
}

/** The proxies of every member and the fault of every directed link. */
export class ChaosNetwork {
  private readonly servers = new Map<string, Server>();
  private readonly ports = new Map<string, number>();
  private readonly links = new Map<string, LinkFault>();
  private readonly connections = new Set<ProxiedConnection>();
  /** Sockets accepted whose hello has not arrived yet. */
  private readonly pending = new Set<Socket>();
  readonly random: () => number;
  /** Connections reset by lossy links (for the report). */
  cuts = 0;
  /** Connections carried so far. */
  carried = 0;

  constructor(private readonly options: ChaosNetworkOptions) {
    this.random = options.random ?? Math.random;
  }

  /** Starts every proxy; resolves with member name → proxy port. */
  async start(): Promise<ReadonlyMap<string, number>> {
    for (const [name, targetPort] of this.options.targets) {
      const server = createServer((socket) => this.accept(name, targetPort, socket));
      server.maxConnections = CONNECTIONS_MAX;
      const port = this.options.proxyPorts?.get(name) ?? 0;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, HOST, () => {
          server.off("error", reject);
          resolve();
        });
      });
      server.on("error", () => {});
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("proxy has no port");
      this.servers.set(name, server);
      this.ports.set(name, address.port);
    }
    return this.ports;
  }

  proxyPort(name: string): number {
    const port = this.ports.get(name);
    if (port === undefined) throw new Error(`no proxy for ${name}`);
    return port;
  }

  faultOf(from: string, to: string): LinkFault {
    return this.links.get(`${from}>${to}`) ?? OK;
  }

  /** Sets the fault of the directed link from → to, applying it to open connections at once. */
  setLink(from: string, to: string, fault: LinkFault): void {
    if (from === to) return;
    if (fault.cut === undefined && !fault.delayMs && !fault.jitterMs && !fault.cutChance)
      this.links.delete(`${from}>${to}`);
    else this.links.set(`${from}>${to}`, fault);
    for (const c of [...this.connections]) if (c.from === from && c.to === to) c.flush();
  }

  /** Every link back to ok; stalled bytes flow again. */
  heal(): void {
    const faulty = [...this.links.keys()];
    this.links.clear();
    for (const c of [...this.connections]) if (faulty.includes(`${c.from}>${c.to}`)) c.flush();
  }

  /** Directed links currently faulty, as "from>to". */
  faultyLinks(): string[] {
    return [...this.links.keys()];
  }

  countCut(): void {
    this.cuts++;
  }

  forget(c: ProxiedConnection): void {
    this.connections.delete(c);
  }

  get openConnections(): number {
    return this.connections.size;
  }

  async stop(): Promise<void> {
    for (const c of [...this.connections]) c.destroy();
    for (const s of this.pending) s.destroy();
    this.pending.clear();
    await Promise.all(
      [...this.servers.values()].map(
        (s) => new Promise<void>((resolve) => s.close(() => resolve())),
      ),
    );
    this.servers.clear();
  }

  /** A dialer connected to `to`'s proxy: read its hello, then connect through to the member. */
  private accept(to: string, targetPort: number, inbound: Socket): void {
    inbound.on("error", () => {});
    this.pending.add(inbound);
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.byteLength < 4) return;
      const helloBytes = buffered.readUInt32BE(0);
      if (helloBytes + 4 > HELLO_BYTES_MAX) return void inbound.destroy();
      if (buffered.byteLength < helloBytes + 4) return;
      inbound.off("data", onData);
      inbound.pause();
      this.pending.delete(inbound);
      let from = "?";
      try {
        from = decodeHello(buffered.subarray(4, 4 + helloBytes)).from;
      } catch {
        // Not a peer hello (a discovery hello has no sender, or garbage): carried as from "?".
      }
      this.connect(from === "" ? "?" : from, to, targetPort, inbound, buffered);
    };
    inbound.on("data", onData);
    inbound.once("close", () => this.pending.delete(inbound));
  }

  private connect(
    from: string,
    to: string,
    targetPort: number,
    inbound: Socket,
    first: Buffer,
  ): void {
    if (this.faultOf(from, to).cut === "reset") return void inbound.resetAndDestroy();
    const helloBytes = first.readUInt32BE(0) + 4;
    const outbound = new Socket();
    outbound.on("error", () => {});
    const c = new ProxiedConnection(from, to, inbound, outbound, this);
    this.connections.add(c);
    this.carried++;
    outbound.connect(targetPort, HOST, () => {
      if (c.isClosed) return;
      outbound.write(first.subarray(0, helloBytes));
      if (first.byteLength > helloBytes) c.push(first.subarray(helloBytes));
      inbound.on("data", (chunk: Buffer) => c.push(chunk));
      inbound.resume();
      c.flush();
    });
    // The reply (and anything else the acceptor says) flows back unconditionally.
    outbound.on("data", (chunk: Buffer) => {
      if (!c.isClosed) inbound.write(chunk);
    });
    inbound.once("close", () => c.destroy());
    outbound.once("close", () => c.destroy());
  }
}
