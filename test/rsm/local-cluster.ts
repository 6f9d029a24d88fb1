// An in-process cluster for runtime tests: RsmNodes on MemoryStorage, joined by a router that
// delivers messages asynchronously (setImmediate) and can cut links. Real timers, fast ticks.
import type { ConfState, Message, NodeId, Snapshot } from "../../src/raft/index.js";
import { asNodeId } from "../../src/raft/index.js";
import { RsmNode, type RsmNodeOptions, type StateMachine } from "../../src/rsm/index.js";
import { MemoryStorage } from "../../src/sim/index.js";

export class Router {
  readonly nodes = new Map<string, RsmNode>();
  private readonly cut = new Set<string>();
  delivered = 0;

  transportFor(from: string) {
    return {
      send: (m: Message): void => {
        if (this.cut.has(`${from}>${m.to}`)) return;
        setImmediate(() => {
          if (this.cut.has(`${from}>${m.to}`)) return;
          this.delivered++;
          this.nodes.get(m.to)?.receive(m);
        });
      },
    };
  }

  isolate(id: string): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  healAll(): void {
    this.cut.clear();
  }
}

export interface LocalCluster {
  readonly router: Router;
  readonly ids: NodeId[];
  readonly storages: Map<string, MemoryStorage>;
  node(id: string): RsmNode;
  leader(): RsmNode | undefined;
  waitForLeader(timeoutMs?: number): Promise<RsmNode>;
  restart(id: string): Promise<RsmNode>;
  /** Starts a new member that joins the running cluster: empty storage, empty configuration. */
  join(id: string): Promise<RsmNode>;
  stop(): Promise<void>;
}

export async function waitFor<T>(
  probe: () => T | undefined | false,
  timeoutMs = 5000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function startCluster(
  size: number,
  makeMachine: (id: string) => StateMachine,
  extra: Partial<RsmNodeOptions> = {},
): Promise<LocalCluster> {
  const router = new Router();
  const ids = Array.from({ length: size }, (_, i) => asNodeId(`n${i + 1}`));
  const storages = new Map<string, MemoryStorage>();
  const bootstrap: ConfState = { voters: ids, votersOutgoing: [], learners: [] };
  const empty: ConfState = { voters: [], votersOutgoing: [], learners: [] };
  const joined = new Set<string>();
  const open = async (id: NodeId): Promise<RsmNode> => {
    let storage = storages.get(id);
    if (storage === undefined) {
      storage = new MemoryStorage();
      storages.set(id, storage);
    }
    const node = await RsmNode.open({
      id,
      confState: joined.has(id) ? empty : bootstrap,
      storage: reopenable(storage),
      transport: router.transportFor(id),
      stateMachine: makeMachine(id),
      tickMs: 10,
      electionTicks: 10,
      heartbeatTicks: 2,
      trapNondeterminism: true,
      checkInvariants: true,
      ...extra,
    });
    router.nodes.set(id, node);
    node.start();
    return node;
  };
  for (const id of ids) await open(id);
  const cluster: LocalCluster = {
    router,
    ids,
    storages,
    node: (id) => router.nodes.get(id) as RsmNode,
    leader: () => [...router.nodes.values()].find((n) => n.isLeader && !n.status().stopped),
    // A leader every running member knows about (followers learn it from its first append).
    waitForLeader: (timeoutMs = 5000) =>
      waitFor(
        () => {
          const leader = cluster.leader();
          if (leader === undefined) return undefined;
          const running = [...router.nodes.values()].filter((n) => !n.status().stopped);
          return running.every((n) => n.leader === leader.id) ? leader : undefined;
        },
        timeoutMs,
        "a leader known to every member",
      ),
    restart: async (id) => {
      await router.nodes.get(id)?.stop();
      return open(asNodeId(id));
    },
    join: (id) => {
      joined.add(id);
      return open(asNodeId(id));
    },
    stop: async () => {
      for (const n of router.nodes.values()) await n.stop();
    },
  };
  return cluster;
}

/** MemoryStorage whose close() does not end it, so a "restarted" node can reopen the same data. */
function reopenable(storage: MemoryStorage) {
  return {
    load: () => storage.load(),
    append: (
      e: Parameters<MemoryStorage["append"]>[0],
      h: Parameters<MemoryStorage["append"]>[1],
    ) => storage.append(e, h),
    saveSnapshot: (s: Snapshot) => storage.saveSnapshot(s),
    installSnapshot: (s: Snapshot) => storage.installSnapshot(s),
    close: async () => {},
  };
}
