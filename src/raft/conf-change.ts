// ConfChange: a membership change as data (Raft thesis §4.3, in the form etcd's raft uses), its
// deterministic binary form (the `data` of an entry of type "ConfChange"), and the pure function
// that computes the configuration a change leads to.
//
// Transitions:
//  - Simple: at most one voter is added or removed; the new configuration takes effect directly
//    (thesis §4.1: any two majorities of configurations that differ by one voter overlap).
//  - JointImplicit / JointExplicit: enter the joint configuration C_old,new (voters = new voters,
//    votersOutgoing = old voters); decisions need majorities of both. Implicit: the leader
//    proposes the empty ConfChange that leaves the joint configuration as soon as it has applied
//    the entry that entered it (etcd's autoLeave). Explicit: the operator proposes it.
//  - Auto: Simple when the change allows it, JointImplicit otherwise.
// The empty ConfChange (no changes) leaves a joint configuration.
//
// Binary form (all integers big-endian):
//   u8 magic 0xC7 · u8 version 1 · u8 transition · u16 change count (≤ CHANGES_MAX)
//   then per change: u8 type · u8 id length (1..255) · id bytes (printable ASCII 0x21..0x7E)
//   then u32 context length (≤ CONTEXT_BYTES_MAX) · context bytes (opaque to the core)
// Decoding is strict: anything else, including trailing bytes, is a ConfChangeDecodeError.
import { assert } from "../lib/index.js";
import { asNodeId, type ConfState, type NodeId } from "./types.js";

export type ConfChangeType = "AddVoter" | "AddLearner" | "RemoveNode";
export type ConfChangeTransition = "Auto" | "Simple" | "JointImplicit" | "JointExplicit";

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly node: NodeId;
}

export interface ConfChange {
  readonly transition: ConfChangeTransition;
  /** Applied in order. Empty: leave the current joint configuration. */
  readonly changes: readonly ConfChangeSingle[];
  /**
   * Opaque to the core and carried with the entry (etcd's ConfChange context): the runtime
   * puts what it needs to know when the change applies there (who proposed it, member
   * addresses). Absent and empty are the same.
   */
  readonly context?: Uint8Array;
}

/** The most changes one ConfChange may carry (a bound on every loop over them). */
export const CHANGES_MAX = 1024;
/** The largest context a ConfChange may carry. */
export const CONTEXT_BYTES_MAX = 64 * 1024;
const MAGIC = 0xc7;
const VERSION = 1;
const ID_BYTES_MAX = 255;

const transitionCodes: readonly ConfChangeTransition[] = [
  "Auto",
  "Simple",
  "JointImplicit",
  "JointExplicit",
];
const typeCodes: readonly ConfChangeType[] = ["AddVoter", "AddLearner", "RemoveNode"];

/** The bytes are not a well-formed ConfChange. `offset` is where decoding failed. */
export class ConfChangeDecodeError extends Error {
  override readonly name = "ConfChangeDecodeError";
  readonly code = "INVALID_ARGUMENT";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`conf change: ${message} at byte ${offset}`);
  }
}

/** The empty ConfChange that leaves a joint configuration. */
export const leaveJointConfChange = (): ConfChange => ({ transition: "Auto", changes: [] });

function isValidId(id: string): boolean {
  if (id.length === 0 || id.length > ID_BYTES_MAX) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** Deterministic binary form. Throws RangeError for a change that cannot be encoded (bad id, too many changes). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (cc.changes.length > CHANGES_MAX) throw new RangeError("conf change: too many changes");
  const context = cc.context ?? new Uint8Array(0);
  if (context.length > CONTEXT_BYTES_MAX)
    throw new RangeError(`conf change: context longer than ${CONTEXT_BYTES_MAX} bytes`);
  let size = 5 + 4 + context.length;
  for (const c of cc.changes) {
    if (!isValidId(c.node))
      throw new RangeError(
        `conf change: node id ${JSON.stringify(c.node)} is not 1..255 printable ASCII characters`,
      );
    size += 2 + c.node.length;
  }
  const out = new Uint8Array(size);
  const transition = transitionCodes.indexOf(cc.transition);
  assert(transition >= 0, "conf change: unknown transition");
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = transition;
  out[3] = cc.changes.length >>> 8;
  out[4] = cc.changes.length & 0xff;
  let at = 5;
  for (const c of cc.changes) {
    const type = typeCodes.indexOf(c.type);
    assert(type >= 0, "conf change: unknown change type");
    out[at++] = type;
    out[at++] = c.node.length;
    for (let i = 0; i < c.node.length; i++) out[at++] = c.node.charCodeAt(i);
  }
  out[at++] = context.length >>> 24;
  out[at++] = (context.length >>> 16) & 0xff;
  out[at++] = (context.length >>> 8) & 0xff;
  out[at++] = context.length & 0xff;
  out.set(context, at);
  at += context.length;
  assert(at === size, "conf change: encoded size mismatch");
  return out;
}

/** Strict inverse of encodeConfChange. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const byte = (at: number, what: string): number => {
    const b = data[at];
    if (b === undefined) throw new ConfChangeDecodeError(`truncated ${what}`, at);
    return b;
  };
  if (byte(0, "magic") !== MAGIC) throw new ConfChangeDecodeError("bad magic", 0);
  if (byte(1, "version") !== VERSION) throw new ConfChangeDecodeError("unknown version", 1);
  const transition = transitionCodes[byte(2, "transition")];
  if (transition === undefined) throw new ConfChangeDecodeError("unknown transition", 2);
  const count = (byte(3, "count") << 8) | byte(4, "count");
  if (count > CHANGES_MAX) throw new ConfChangeDecodeError(`too many changes (${count})`, 3);
  const changes: ConfChangeSingle[] = [];
  let at = 5;
  for (let n = 0; n < count; n++) {
    const type = typeCodes[byte(at, "change type")];
    if (type === undefined) throw new ConfChangeDecodeError("unknown change type", at);
    const length = byte(at + 1, "id length");
    if (length === 0) throw new ConfChangeDecodeError("empty node id", at + 1);
    at += 2;
    let id = "";
    for (let i = 0; i < length; i++) {
      const c = byte(at + i, "node id");
      if (c < 0x21 || c > 0x7e)
        throw new ConfChangeDecodeError("node id not printable ASCII", at + i);
      id += String.fromCharCode(c);
    }
    at += length;
    changes.push({ type, node: asNodeId(id) });
  }
  const contextLength =
    byte(at, "context length") * 2 ** 24 +
    (byte(at + 1, "context length") << 16) +
    (byte(at + 2, "context length") << 8) +
    byte(at + 3, "context length");
  if (contextLength > CONTEXT_BYTES_MAX)
    throw new ConfChangeDecodeError(`context too long (${contextLength} bytes)`, at);
  at += 4;
  if (at + contextLength > data.length) throw new ConfChangeDecodeError("truncated context", at);
  const context = data.slice(at, at + contextLength);
  at += contextLength;
  if (at !== data.length) throw new ConfChangeDecodeError("trailing bytes", at);
  const cc: ConfChange =
    contextLength > 0 ? { transition, changes, context } : { transition, changes };
  assert(encodeConfChange(cc).length === data.length, "conf change: decode/encode size mismatch");
  return cc;
}

/** True for the empty ConfChange that leaves a joint configuration. */
export const isLeaveJoint = (cc: ConfChange): boolean => cc.changes.length === 0;

export const isJoint = (conf: ConfState): boolean => conf.votersOutgoing.length > 0;

const sorted = (ids: Iterable<NodeId>): NodeId[] => [...ids].sort();

/**
 * The configuration `cc` leads to from `conf`, or the reason it is not allowed. Pure and
 * deterministic: every replica computes the same result from the same configuration.
 */
export function nextConfState(
  conf: ConfState,
  cc: ConfChange,
): { readonly conf: ConfState } | { readonly error: string } {
  if (isLeaveJoint(cc)) {
    if (!isJoint(conf)) return { error: "not in a joint configuration; nothing to leave" };
    return {
      conf: { voters: sorted(conf.voters), votersOutgoing: [], learners: sorted(conf.learners) },
    };
  }
  if (isJoint(conf)) {
    return {
      error: "in a joint configuration; leave it (empty ConfChange) before the next change",
    };
  }
  if (cc.changes.length > CHANGES_MAX) return { error: "too many changes" };
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  const seen = new Set<NodeId>();
  for (const c of cc.changes) {
    if (!isValidId(c.node)) return { error: `bad node id ${JSON.stringify(c.node)}` };
    if (seen.has(c.node)) return { error: `${c.node} appears twice in one change` };
    seen.add(c.node);
    switch (c.type) {
      case "AddVoter":
        if (voters.has(c.node)) return { error: `${c.node} is already a voter` };
        learners.delete(c.node);
        voters.add(c.node);
        break;
      case "AddLearner":
        if (voters.has(c.node))
          return {
            error: `${c.node} is a voter; demotion to learner is not supported (remove it, then add it as a learner)`,
          };
        if (learners.has(c.node)) return { error: `${c.node} is already a learner` };
        learners.add(c.node);
        break;
      case "RemoveNode":
        if (!voters.has(c.node) && !learners.has(c.node))
          return { error: `${c.node} is not a member` };
        voters.delete(c.node);
        learners.delete(c.node);
        break;
    }
  }
  if (voters.size === 0) return { error: "the change would leave no voter" };
  let changedVoters = 0;
  for (const v of voters) if (!conf.voters.includes(v)) changedVoters++;
  for (const v of conf.voters) if (!voters.has(v)) changedVoters++;
  const simpleAllowed = changedVoters <= 1;
  if (cc.transition === "Simple" && !simpleAllowed) {
    return {
      error: `a simple change may add or remove at most one voter (this one changes ${changedVoters}); use a joint transition`,
    };
  }
  const next: ConfState =
    cc.transition === "Simple" || (cc.transition === "Auto" && simpleAllowed)
      ? { voters: sorted(voters), votersOutgoing: [], learners: sorted(learners) }
      : {
          voters: sorted(voters),
          votersOutgoing: sorted(conf.voters),
          learners: sorted(learners),
          ...(cc.transition === "JointExplicit" ? {} : { autoLeave: true }),
        };
  assert(next.voters.length > 0, "conf change: no voter left");
  return { conf: next };
}
