// The Wing–Gong–Lowe search over one key's operations: is there an order of them that the KV
// model accepts and that respects real time? One function, one loop, an explicit stack.
//
// Completed operations ("bounded": they have a return event) live in an `EntryList` of call
// and return events in time order. Open operations (status unknown: no return, may have taken
// effect at any time after invoke, or never) are kept apart, sorted by invoke.
//
// At each node of the search, the candidates for the next linearized operation are, in the
// order tried:
//   1. the completed operations whose call comes before the first return event still in the
//      list (the "deadline": that operation must take effect before it returned), in list order;
//   2. the open operations not yet used that were invoked no later than the deadline.
// A candidate the model accepts, and whose resulting (linearized set, state) pair the cache
// has not seen or dominated (see state-cache.ts), is pushed; the search then starts over at
// the new node. When a node runs out of candidates, the search pops back to its parent and
// tries the parent's next candidate. It succeeds as soon as every completed operation is
// linearized: open operations left over are placed after everything, i.e. never happened.
//
// Trying open operations last matters: they are optional, so they are used only when the
// completed ones are stuck, and the cache then holds pairs with few open operations, which
// dominate the pairs with more that later paths reach.
//
// At such a dead end, only open operations that lead somewhere are tried (`OpenOpFilter`). Say
// node N (state s) has tried every completed candidate. A completion from N must then begin
// with a run of open operations followed by a completed candidate x. An open put or delete in
// that run overwrites whatever the run did before it, so everything before the run's last put
// or delete can be moved to the very end (open operations have no deadline); a cas that does
// not apply changes nothing and goes to the end too. What remains is a chain: at most one put
// or delete, then cas operations each finding the value the previous one wrote. If x were
// possible in s already, the run could move after x (x being a get or a failed cas, it leaves
// the state alone; a put, delete or applied cas overwrites it), giving a completion that starts
// with x, which was tried. So each operation of the run either makes a candidate possible that
// is impossible in s, or writes the value an unused open cas expects.
//
// Open operations that are the same model step (say, two timed-out deletes) are
// interchangeable, except that one invoked earlier may be placed anywhere the later one may:
// so, of each such class, only the earliest unused one is ever a candidate, and the ones used
// on a path are always the earliest of their class. Without this, a search that must fail
// tries every choice of which equal operation to use where.
import { assert } from "../lib/index.js";
import { callEventOf, EntryList, isCallEvent, opOfEvent } from "./entry-list.js";
import type { IndexedHistoryOp } from "./history.js";
import {
  ABSENT,
  compileModelOp,
  ILLEGAL,
  type ModelOp,
  ModelOpKind,
  stepModel,
  stepValue,
  ValueInterner,
} from "./kv-model.js";
import { LinearizedSet } from "./linearized-set.js";
import { StateCache } from "./state-cache.js";

export type KeySearchOutcome =
  | { readonly kind: "linearizable"; readonly states: number }
  | {
      readonly kind: "exhausted";
      readonly states: number;
      /** The furthest point reached before the budget ran out, if any dead end was met. */
      readonly furthest: KeyViolation | null;
    }
  | ({ readonly kind: "violation"; readonly states: number } & KeyViolation);

/**
 * The furthest point of a failed search: the first node reached with the most completed
 * operations linearized. All its completed candidates are impossible in `stateAfter`, and no
 * sequence of open operations makes one possible (else a node further on would exist).
 */
export interface KeyViolation {
  /** The operations linearized on the path to that node, in order (open ones included). */
  readonly linearized: readonly IndexedHistoryOp[];
  /** The key's value at that node; null when absent. */
  readonly stateAfter: string | null;
  /** Its completed candidates, in invoke order. */
  readonly pending: readonly IndexedHistoryOp[];
  /** The candidate that completed first: one of `pending` had to go before it returned. */
  readonly deadline: IndexedHistoryOp;
}

/** Searches one key's operations (ok ones and open non-gets; callers drop the rest). */
export function searchKey(items: readonly IndexedHistoryOp[], maxStates: number): KeySearchOutcome {
  return new KeySearch(prepareKey(items), maxStates).run();
}

/** What a look at the next candidate found. Op ids are >= 0. */
const MOVED_ON = -1;
const DEAD_END = -2;
const NO_DEADLINE = -1;

/** One search: the state of the depth-first walk and its explicit stack. */
class KeySearch {
  private readonly input: SearchInput;
  private readonly maxStates: number;
  private readonly set: LinearizedSet;
  private readonly cache: StateCache;
  private readonly filter: OpenOpFilter;
  /** Per class of equal open operations, how many (the earliest ones) the current path used. */
  private readonly usedPerClass: Int32Array;

  // The stack: per depth, the operation linearized, the state before it, and the deadline in
  // force when it was chosen (to resume among the open candidates after popping it).
  private readonly stackOps: Int32Array;
  private readonly stackStates: Int32Array;
  private readonly stackDeadlines: Int32Array;
  private depth = 0;
  /** How many of the operations on the stack are completed ones. */
  private boundedDepth = 0;
  private state = ABSENT;
  /** The state after the candidate `visit` last accepted. */
  private next = ABSENT;
  private furthest: Furthest | null = null;

  // The cursor: walking the event list at `event` while `deadline` is NO_DEADLINE; once it
  // meets the first return event, that is the deadline, and it walks the open operations
  // from `openNext`.
  private event: number;
  private deadline = NO_DEADLINE;
  private openNext = 0;

  constructor(input: SearchInput, maxStates: number) {
    const opCount = input.model.length;
    this.input = input;
    this.maxStates = maxStates;
    this.set = new LinearizedSet(input.boundedCount, opCount - input.boundedCount);
    this.cache = new StateCache(this.set);
    this.filter = new OpenOpFilter(input);
    this.usedPerClass = new Int32Array(input.openClassCount);
    this.stackOps = new Int32Array(opCount);
    this.stackStates = new Int32Array(opCount);
    this.stackDeadlines = new Int32Array(opCount);
    this.event = input.list.first();
  }

  run(): KeySearchOutcome {
    if (this.input.list.isEmpty()) return { kind: "linearizable", states: 0 };
    // Between two pushes or pops the cursor only moves forward, through at most 2n events and
    // then the open operations; pops never outnumber pushes, and the budget bounds pushes.
    const iterationsMax = (2 * this.maxStates + 2) * (2 * this.input.model.length + 3);
    for (let iteration = 0; ; iteration++) {
      assert(iteration < iterationsMax, "linearizability search exceeded its iteration bound");
      const chosen =
        this.deadline === NO_DEADLINE ? this.tryCompletedCandidate() : this.tryOpenCandidate();
      if (chosen === MOVED_ON) continue;
      const outcome = chosen === DEAD_END ? this.backtrack() : this.push(chosen);
      if (outcome !== null) return outcome;
    }
  }

  /** Looks at the event under the cursor: linearizes its operation if it can, else moves on. */
  private tryCompletedCandidate(): number {
    const { list, model } = this.input;
    assert(this.event !== list.tail, "cursor ran off the list: a call without its return");
    if (!isCallEvent(this.event)) {
      this.enterOpenPhase(this.event, 0);
      return MOVED_ON;
    }
    const op = opOfEvent(this.event);
    if (this.visit(op, stepModel(model[op]!, this.state))) return op;
    this.event = list.next(this.event);
    return MOVED_ON;
  }

  /** Looks at the next open candidate: linearizes it if useful, or finds the node exhausted. */
  private tryOpenCandidate(): number {
    const { model, boundedCount, openInvokes, openClasses, openRanks, returnTimes } = this.input;
    const j = this.openNext;
    if (j >= openInvokes.length || openInvokes[j]! > returnTimes[opOfEvent(this.deadline)]!) {
      return DEAD_END;
    }
    this.openNext++;
    if (openRanks[j] !== this.usedPerClass[openClasses[j]!]) return MOVED_ON;
    const op = boundedCount + j;
    assert(!this.set.has(op), "the first unused open operation of its class is in use");
    const next = stepModel(model[op]!, this.state);
    assert(next !== ILLEGAL, "an open operation is always possible");
    return this.filter.accepts(next) && this.visit(op, next) ? op : MOVED_ON;
  }

  private enterOpenPhase(deadline: number, openNext: number): void {
    this.deadline = deadline;
    this.openNext = openNext;
    this.filter.prepare(this.set, this.state, deadline);
  }

  /** Adds `op` to the set if the model accepts it and the pair is new and undominated. */
  private visit(op: number, next: number): boolean {
    if (next === ILLEGAL) return false;
    this.set.add(op);
    if (this.cache.addIfNotDominated(next)) {
      this.next = next;
      return true;
    }
    this.set.remove(op);
    return false;
  }

  /** Makes `op` (just visited) the new node; returns an outcome if that ends the search. */
  private push(op: number): KeySearchOutcome | null {
    const { list, boundedCount, openClasses } = this.input;
    if (this.cache.size > this.maxStates) {
      const furthest =
        this.furthest === null ? null : describeFurthest(this.input, this.furthest, false);
      return { kind: "exhausted", states: this.cache.size, furthest };
    }
    this.stackOps[this.depth] = op;
    this.stackStates[this.depth] = this.state;
    this.stackDeadlines[this.depth] = this.deadline;
    this.depth++;
    this.state = this.next;
    if (op < boundedCount) {
      this.boundedDepth++;
      list.lift(op);
      if (list.isEmpty()) return { kind: "linearizable", states: this.cache.size };
    } else {
      this.usedPerClass[openClasses[op - boundedCount]!]!++;
    }
    this.event = list.first();
    this.deadline = NO_DEADLINE;
    return null;
  }

  /** The node under the cursor is a dead end: returns to its parent, or fails at the root. */
  private backtrack(): KeySearchOutcome | null {
    const { list, boundedCount, openClasses } = this.input;
    if (this.furthest === null || this.boundedDepth > this.furthest.boundedDepth) {
      const path = this.stackOps.slice(0, this.depth);
      this.furthest = recordFurthest(list, this.deadline, this.boundedDepth, path, this.state);
    }
    if (this.depth === 0) {
      const violation = describeFurthest(this.input, this.furthest, true);
      return { kind: "violation", states: this.cache.size, ...violation };
    }
    this.depth--;
    const op = this.stackOps[this.depth]!;
    this.state = this.stackStates[this.depth]!;
    this.set.remove(op);
    if (op < boundedCount) {
      this.boundedDepth--;
      list.unlift(op);
      this.event = list.next(callEventOf(op));
      this.deadline = NO_DEADLINE;
    } else {
      this.usedPerClass[openClasses[op - boundedCount]!]!--;
      this.enterOpenPhase(this.stackDeadlines[this.depth]!, op - boundedCount + 1);
    }
    return null;
  }
}

/**
 * Decides which open operations are worth trying at a dead end (see the file comment): those
 * whose resulting state makes an impossible completed candidate possible, or is the value an
 * unused open cas candidate expects. Prepared once per dead end, queried per open candidate.
 */
class OpenOpFilter {
  private readonly input: SearchInput;
  /** neededStamps[state] === stamp marks the states wanted at the current dead end. */
  private readonly neededStamps: Int32Array;
  private stamp = 0;
  /** A failed cas is impossible: any change of state would make it possible. */
  private anyChange = false;
  private state = ABSENT;

  constructor(input: SearchInput) {
    this.input = input;
    this.neededStamps = new Int32Array(input.values.idCount);
  }

  prepare(set: LinearizedSet, state: number, deadlineEvent: number): void {
    const { list, model, boundedCount, openInvokes, returnTimes } = this.input;
    this.stamp++;
    this.anyChange = false;
    this.state = state;
    for (let event = list.first(); event !== deadlineEvent; event = list.next(event)) {
      const op = model[opOfEvent(event)]!;
      if (stepModel(op, state) !== ILLEGAL) continue;
      if (op.kind === ModelOpKind.get) this.neededStamps[op.output] = this.stamp;
      else if (op.kind === ModelOpKind.casApplied) this.neededStamps[op.expected] = this.stamp;
      else if (op.kind === ModelOpKind.casRejected) this.anyChange = true;
      else assert(false, "a put or delete is always possible");
    }
    const deadlineTime = returnTimes[opOfEvent(deadlineEvent)]!;
    for (let j = 0; j < openInvokes.length && openInvokes[j]! <= deadlineTime; j++) {
      const op = model[boundedCount + j]!;
      if (op.kind === ModelOpKind.casUnknown && !set.has(boundedCount + j)) {
        this.neededStamps[op.expected] = this.stamp;
      }
    }
  }

  accepts(next: number): boolean {
    return next !== this.state && (this.anyChange || this.neededStamps[next] === this.stamp);
  }
}

/** One key's operations, numbered for the search: completed ones first, in invoke order. */
interface SearchInput {
  readonly ops: readonly IndexedHistoryOp[];
  readonly model: readonly ModelOp[];
  readonly boundedCount: number;
  readonly returnTimes: readonly number[];
  /** Invoke times of the open operations, ascending: open op j has id boundedCount + j. */
  readonly openInvokes: readonly number[];
  /** Open op j's class: open operations with equal model steps share one. */
  readonly openClasses: readonly number[];
  /** Open op j's position in its class, in invoke order. */
  readonly openRanks: readonly number[];
  readonly openClassCount: number;
  readonly values: ValueInterner;
  readonly list: EntryList;
}

function prepareKey(items: readonly IndexedHistoryOp[]): SearchInput {
  // Completed operations get the low ids in invoke order, open ones the high ids: the layout
  // `LinearizedSet` relies on, and the order in which open candidates are tried.
  const ops = [...items].sort((a, b) => {
    const openA = a.op.complete === null ? 1 : 0;
    const openB = b.op.complete === null ? 1 : 0;
    if (openA !== openB) return openA - openB;
    if (a.op.invoke !== b.op.invoke) return a.op.invoke - b.op.invoke;
    return a.index - b.index;
  });
  const values = new ValueInterner(ops.map((item) => item.op));
  const model: ModelOp[] = [];
  const callTimes: number[] = [];
  const returnTimes: number[] = [];
  const openInvokes: number[] = [];
  const openClasses: number[] = [];
  const openRanks: number[] = [];
  const classIds = new Map<string, number>();
  const classSizes: number[] = [];
  for (let id = 0; id < ops.length; id++) {
    const { op } = ops[id] as IndexedHistoryOp;
    assert(
      op.status !== "fail" && !(op.status === "unknown" && op.op === "get"),
      "op not searched",
    );
    const step = compileModelOp(op, values);
    model.push(step);
    if (op.complete === null) {
      openInvokes.push(op.invoke);
      const classKey = `${step.kind}:${step.value}:${step.expected}:${step.output}`;
      let openClass = classIds.get(classKey);
      if (openClass === undefined) {
        openClass = classSizes.length;
        classIds.set(classKey, openClass);
        classSizes.push(0);
      }
      openClasses.push(openClass);
      openRanks.push(classSizes[openClass]!);
      classSizes[openClass]!++;
    } else {
      assert(openInvokes.length === 0, "a completed operation sorted after an open one");
      callTimes.push(op.invoke);
      returnTimes.push(op.complete);
    }
  }
  const list = new EntryList(callTimes, returnTimes);
  return {
    ops,
    model,
    boundedCount: callTimes.length,
    returnTimes,
    openInvokes,
    openClasses,
    openRanks,
    openClassCount: classSizes.length,
    values,
    list,
  };
}

interface Furthest {
  readonly boundedDepth: number;
  readonly path: Int32Array;
  readonly state: number;
  readonly pending: readonly number[];
  readonly deadline: number;
}

function recordFurthest(
  list: EntryList,
  deadlineEvent: number,
  boundedDepth: number,
  path: Int32Array,
  state: number,
): Furthest {
  // The deadline is the first return event in the list, so every operation whose call comes
  // before it is a completed candidate.
  const pending: number[] = [];
  for (let event = list.first(); event !== deadlineEvent; event = list.next(event)) {
    assert(isCallEvent(event), "a return event before the first one");
    pending.push(opOfEvent(event));
  }
  const deadline = opOfEvent(deadlineEvent);
  assert(pending.includes(deadline), "the deadline operation's call is not pending");
  return { boundedDepth, path, state, pending, deadline };
}

/** `complete`: the search finished, so the furthest point is final and proves the violation. */
function describeFurthest(input: SearchInput, furthest: Furthest, complete: boolean): KeyViolation {
  const { ops, model, values } = input;
  // When the search is over, at the first node with the most completed operations linearized,
  // a completed candidate the model accepted would have led further (a new pair is explored;
  // a seen or dominating one was explored before), so every one must be impossible there.
  for (let i = 0; complete && i < furthest.pending.length; i++) {
    const op = furthest.pending[i]!;
    assert(stepModel(model[op]!, furthest.state) === ILLEGAL, "furthest point has a legal step");
  }
  const indexed = (op: number): IndexedHistoryOp => ops[op]!;
  const linearized = Array.from(furthest.path, indexed);
  let stateAfter: string | null = null;
  for (let i = 0; i < linearized.length; i++) stateAfter = stepValue(linearized[i]!.op, stateAfter);
  assert(values.idOf(stateAfter) === furthest.state, "replayed value disagrees with the search");
  return {
    linearized,
    stateAfter,
    pending: furthest.pending.map(indexed),
    deadline: indexed(furthest.deadline),
  };
}
