// An example of bringing your own state machine: a replicated counter with named counters.
//
//   const node = await RsmNode.open({ id, confState, storage, transport, stateMachine: new CounterMachine() });
//   node.start();
//   const after = decodeCount(await node.propose(encodeCounterCommand({ op: "add", name: "hits", by: 1 })));
//
// Everything it does depends only on the commands and the ApplyContext: no clock, no
// Math.random. `ctx.timestampMs` (the leader's time, the same on every replica) records when a
// counter last changed, and `ctx.random` picks a replica-independent "lucky number".
import type { ApplyContext, StateMachine } from "../state-machine.js";

export type CounterCommand =
  | { readonly op: "add"; readonly name: string; readonly by: number }
  | { readonly op: "reset"; readonly name: string }
  | { readonly op: "lucky"; readonly name: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const encodeCounterCommand = (c: CounterCommand): Uint8Array =>
  encoder.encode(JSON.stringify(c));
export const encodeCounterQuery = (name: string): Uint8Array => encoder.encode(name);
export const decodeCount = (b: Uint8Array): number => Number(decoder.decode(b));

interface Counter {
  value: number;
  changedAtMs: number;
}

export class CounterMachine implements StateMachine {
  private counters = new Map<string, Counter>();

  apply(command: Uint8Array, ctx: ApplyContext): Uint8Array {
    let c: CounterCommand;
    try {
      c = JSON.parse(decoder.decode(command)) as CounterCommand;
    } catch {
      return encoder.encode("error: malformed command");
    }
    const counter = this.counters.get(c.name) ?? { value: 0, changedAtMs: 0 };
    switch (c.op) {
      case "add":
        if (!Number.isSafeInteger(c.by)) return encoder.encode("error: by must be an integer");
        counter.value += c.by;
        break;
      case "reset":
        counter.value = 0;
        break;
      case "lucky":
        counter.value = ctx.random.int(1000);
        break;
      default:
        return encoder.encode("error: unknown op");
    }
    counter.changedAtMs = ctx.timestampMs;
    this.counters.set(c.name, counter);
    return encoder.encode(String(counter.value));
  }

  /** `name` → the counter's value; `@name` → when it last changed (the leader's ms). */
  query(query: Uint8Array): Uint8Array {
    const q = decoder.decode(query);
    if (q.startsWith("@"))
      return encoder.encode(String(this.counters.get(q.slice(1))?.changedAtMs ?? 0));
    return encoder.encode(String(this.counters.get(q)?.value ?? 0));
  }

  snapshot(): Uint8Array {
    const entries = [...this.counters.entries()].sort((a, b) =>
      a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
    );
    return encoder.encode(JSON.stringify(entries));
  }

  restore(snapshot: Uint8Array): void {
    this.counters = new Map(JSON.parse(decoder.decode(snapshot)) as [string, Counter][]);
  }
}
