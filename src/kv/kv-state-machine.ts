// The store as the runtime's StateMachine: bytes in, bytes out. apply() is total: whatever the
// command bytes, it returns a result (an error result for a malformed or refused command) and
// throws only when an invariant of the store itself breaks, which is a bug the node must stop
// on. Time and randomness come only from the ApplyContext, so every replica computes the same.
//
// Events: the server subscribes to `store` (KvStore.subscribe) and hears every write's events
// synchronously inside apply, after the state is consistent; a listener's exception is caught
// and counted, never allowed to break apply. To resume a watch it reads KvStore.events (or the
// Events query), then follows the listener: both run on the same thread, so nothing falls
// between them.

import { assertNever } from "../lib/index.js";
import type { ApplyContext, StateMachine } from "../rsm/state-machine.js";
import { checkPermitted, executeAuth } from "./auth-apply.js";
import { type AuthInfo, NO_AUTH_INFO } from "./auth-store.js";
import type { PlainKvCommand } from "./codec.js";
import {
  decodeCommand,
  decodeQuery,
  encodeResult,
  errorInfoOf,
  type KvCommand,
  type KvQuery,
  type KvResponse,
  type KvResult,
} from "./codec.js";
import { KvError, requestTooLargeError } from "./errors.js";
import { KvStore } from "./kv-store.js";
import type { KvLimits } from "./limits.js";
import { noSpaceError, refusedWhenCapped } from "./quota.js";

/**
 * Runs one decoded command against the store. Throws KvError for a refused command. A client's
 * command is first checked against the auth state (auth-apply.ts) with the AuthInfo it carried
 * (a WithAuth envelope), or with none.
 */
export function executeCommand(store: KvStore, command: KvCommand, ctx: ApplyContext): KvResponse {
  const info: AuthInfo = command.type === "WithAuth" ? command.auth : NO_AUTH_INFO;
  const plain: PlainKvCommand = command.type === "WithAuth" ? command.command : command;
  checkPermitted(store, info, plain);
  // etcd's applierV3Capped: while NOSPACE is raised, what would grow the store is refused. The
  // alarm is in the log, so every replica refuses the same commands.
  if (refusedWhenCapped(plain) && store.alarms.has("NOSPACE")) throw noSpaceError();
  return executePlain(store, plain, info, ctx);
}

function executePlain(
  store: KvStore,
  command: PlainKvCommand,
  info: AuthInfo,
  ctx: ApplyContext,
): KvResponse {
  switch (command.type) {
    case "Range":
      return { type: command.type, response: store.range(command.request) };
    case "Put":
      return { type: command.type, response: store.put(command.request) };
    case "DeleteRange":
      return { type: command.type, response: store.deleteRange(command.request) };
    case "Txn":
      return { type: command.type, response: store.txn(command.request) };
    case "Compaction":
      return { type: command.type, response: store.compact(command.request) };
    case "LeaseGrant":
      return { type: command.type, response: store.leaseGrant(command.request, ctx) };
    case "LeaseRevoke":
      return { type: command.type, response: store.leaseRevoke(command.request) };
    case "LeaseKeepAlive":
      return { type: command.type, response: store.leaseKeepAlive(command.request, ctx) };
    case "LeaseExpire":
      return { type: command.type, response: store.leaseExpire(command.request, ctx) };
    case "LeaseRenewAll":
      return { type: command.type, response: store.leaseRenewAll(command.request, ctx) };
    case "Auth":
      return { type: command.type, response: executeAuth(store, info, command.request, ctx.index) };
    case "Alarm":
      return { type: command.type, response: store.alarm(command.request) };
    default:
      return assertNever(command, "command");
  }
}

/** Answers one decoded query. Throws KvError for a refused query. Never changes the store. */
export function executeQuery(store: KvStore, query: KvQuery): KvResponse {
  switch (query.type) {
    case "Range":
      return { type: query.type, response: store.range(query.request) };
    case "LeaseTimeToLive":
      return { type: query.type, response: store.leaseTimeToLive(query.request) };
    case "LeaseLeases":
      return { type: query.type, response: store.leaseLeases() };
    case "HashKV":
      return { type: query.type, response: store.hashKV(query.request) };
    case "Status":
      return { type: query.type, response: store.status() };
    case "Events":
      return { type: query.type, response: store.events(query.request) };
    default:
      return assertNever(query, "query");
  }
}

/** Runs `answer`, turning an operating error into an error result; bugs propagate. */
function resultOf(answer: () => KvResponse): KvResult {
  try {
    return { ok: true, response: answer() };
  } catch (e) {
    if (e instanceof KvError) return { ok: false, error: errorInfoOf(e) };
    throw e;
  }
}

export class KvStateMachine implements StateMachine {
  readonly store: KvStore;

  constructor(limits: Partial<KvLimits> = {}) {
    this.store = new KvStore(limits);
  }

  apply(command: Uint8Array, ctx: ApplyContext): Uint8Array {
    return encodeResult(this.applyDecoded(command, ctx));
  }

  /** apply() without the final encoding, for in-process callers and tests. */
  applyDecoded(command: Uint8Array, ctx: ApplyContext): KvResult {
    return resultOf(() => {
      if (command.length > this.store.limits.requestBytesMax) throw requestTooLargeError();
      return executeCommand(this.store, decodeCommand(command), ctx);
    });
  }

  query(query: Uint8Array): Uint8Array {
    return encodeResult(this.queryDecoded(query));
  }

  queryDecoded(query: Uint8Array): KvResult {
    return resultOf(() => {
      if (query.length > this.store.limits.requestBytesMax) throw requestTooLargeError();
      return executeQuery(this.store, decodeQuery(query));
    });
  }

  snapshot(): Uint8Array {
    return this.store.snapshot();
  }

  restore(snapshot: Uint8Array): void {
    this.store.restore(snapshot);
  }

  /** For the runtime's divergence checks: O(1) in the key count (KvStore.digest). */
  digest(): Uint8Array {
    return this.store.digest();
  }

  /** The replica-divergence digest (see KvStore.hash). */
  hash(): number {
    return this.store.hash();
  }
}
