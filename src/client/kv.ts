// etcd's KV service (clientv3 kv.go): get, put, delete, compact, txn, and compare-and-swap as
// one txn. Writes go through the session when exactlyOnce is set (session.ts).
import { SessionConnection } from "./session.js";
import {
  deleteRequest,
  putRequest,
  type RawRange,
  type RawTxn,
  rangeRequest,
  rangeResult,
  type TxnRequest,
  type TxnResult,
  txnResult,
  txnToEtcd,
} from "./txn.js";
import { type Bytes, type KeyValue, type RawHeader, type RawKv, toKv } from "./wire.js";

export interface GetOptions {
  readonly prefix?: boolean;
  readonly rangeEnd?: Bytes;
  readonly limit?: number;
  readonly revision?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly serializable?: boolean;
  /** Every key from `key` on (etcd's range_end "\0"; an empty key means all keys). */
  readonly fromKey?: boolean;
  /** etcd's sort: order (NONE by default) by target (KEY by default). */
  readonly sortOrder?: "NONE" | "ASCEND" | "DESCEND";
  readonly sortTarget?: "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";
}

export interface GetResult {
  readonly kvs: KeyValue[];
  readonly count: number;
  readonly more: boolean;
  readonly revision: number;
  /** The response header: cluster and member id, revision, raft term (decimal strings). */
  readonly header: RawHeader;
}

export class KvApi extends SessionConnection {
  async put(
    key: Bytes,
    value: Bytes,
    options: { lease?: string; prevKv?: boolean } = {},
  ): Promise<{ revision: number; prevKv: KeyValue | undefined; header: RawHeader }> {
    const res = (await this.write("Put", putRequest(key, value, options))) as {
      header: RawHeader;
      prev_kv: RawKv | null;
    };
    return {
      revision: Number(res.header.revision),
      prevKv: res.prev_kv ? toKv(res.prev_kv) : undefined,
      header: res.header,
    };
  }

  async get(key: Bytes, options: GetOptions = {}): Promise<GetResult> {
    return rangeResult((await this.call("KV", "Range", rangeRequest(key, options))) as RawRange);
  }

  async delete(
    key: Bytes,
    options: { prefix?: boolean; rangeEnd?: Bytes; prevKv?: boolean } = {},
  ): Promise<{ deleted: number; revision: number; prevKvs: KeyValue[]; header: RawHeader }> {
    const res = (await this.write("DeleteRange", deleteRequest(key, options))) as {
      header: RawHeader;
      deleted: string;
      prev_kvs: RawKv[];
    };
    return {
      deleted: Number(res.deleted),
      revision: Number(res.header.revision),
      prevKvs: res.prev_kvs.map(toKv),
      header: res.header,
    };
  }

  /**
   * Compacts the history up to `revision` (etcd's Compact); with `physical` it returns once the
   * compaction is applied (Ordo compacts while applying, so it always is).
   */
  async compact(revision: number, options: { physical?: boolean } = {}): Promise<RawHeader> {
    const res = (await this.call("KV", "Compact", {
      revision: String(revision),
      physical: options.physical ?? false,
    })) as { header: RawHeader };
    return res.header;
  }

  /** One transaction: if every compare holds, the success ops run, otherwise the failure ops. */
  async txn(request: TxnRequest): Promise<TxnResult> {
    return txnResult((await this.write("Txn", txnToEtcd(request))) as RawTxn);
  }

  /** Compare-and-swap in one Txn: put `value` if the key's value is `expected` (null: absent). */
  async compareAndSwap(key: Bytes, expected: Bytes | null, value: Bytes): Promise<boolean> {
    const res = await this.txn({
      compare: [
        expected === null
          ? { key, target: "version", op: "==", value: 0 }
          : { key, target: "value", op: "==", value: expected },
      ],
      success: [{ type: "put", key, value }],
    });
    return res.succeeded;
  }
}
