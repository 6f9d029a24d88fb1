// What the simulation needs of a member, whichever stack runs inside it: the bare core with a
// minimal driver (SimNode) or the full runtime with the MVCC store (RuntimeMember).
import type { Message, NodeId, Role } from "../raft/index.js";
import type { SimDisk } from "./disk.js";

/** A client request as it arrives at a member. */
export type ClientRequest =
  | {
      readonly kind: "write";
      readonly requestId: number;
      readonly client: string;
      readonly command: SimCommand;
    }
  | {
      readonly kind: "read";
      readonly requestId: number;
      readonly client: string;
      readonly key: string;
    }
  | { readonly kind: "register"; readonly requestId: number; readonly client: string };

/** A write of the workload, with its session stamp. */
export interface SimCommand {
  readonly client: string;
  /** The session to apply it in (runtime stack: a registered session id). */
  readonly session?: string;
  readonly seq: number;
  readonly op: "put" | "delete" | "cas";
  readonly key: string;
  readonly value?: string;
  /** cas: the value the key must hold; null means absent. */
  readonly expected?: string | null;
}

export type ClientReply =
  | { readonly kind: "ok"; readonly requestId: number; readonly output: string | boolean | null }
  /** Certainly not applied by this attempt (refused before it was proposed). */
  | { readonly kind: "refused"; readonly requestId: number; readonly leaderHint: string }
  /** This attempt's entry was lost or its outcome is unknown; a retry (same session seq) is safe. */
  | { readonly kind: "lost"; readonly requestId: number };

export interface SimMember {
  readonly id: NodeId;
  /** Bumped on every crash so events scheduled by an earlier life are ignored. */
  readonly incarnation: number;
  readonly crashed: boolean;
  readonly role: Role;
  readonly term: number;
  readonly appliedIndex: number;
  /** What survives a crash; replaced by a wipe. */
  readonly disk: SimDisk;
  /** Refused by a peer for a stale incarnation: stopped for good. */
  readonly fenced: boolean;
  crash(): void;
  /** Crashes and wipes the disk (a new one with `incarnation`); restart() boots it empty. */
  wipe(incarnation: number): void;
  /** Stops for good (a peer refused its data directory). */
  fence(): void;
  restart(): void;
  pause(): void;
  resume(): void;
  tick(): void;
  receive(m: Message): void;
  handleClient(request: ClientRequest): void;
  /** The value of `key` in this member's state machine (for the final reads). */
  localGet(key: string): string | null;
  /** A digest of the state machine, for the convergence check. */
  stateDigest(): string;
}
