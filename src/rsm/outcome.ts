// Outcome: what applying one entry produced for its proposer — a result, or an error the
// proposer must see. Sessions keep the outcome of their last command (to answer a retry), so
// outcomes travel in the runtime's snapshot too.

export type Outcome =
  | { readonly ok: true; readonly result: Uint8Array }
  | {
      readonly ok: false;
      readonly code: "SESSION_EXPIRED" | "INVALID_ARGUMENT" | "PROPOSAL_DROPPED";
      readonly message: string;
    };

export const OK_EMPTY: Outcome = { ok: true, result: new Uint8Array(0) };

export const invalid = (message: string): Outcome => ({
  ok: false,
  code: "INVALID_ARGUMENT",
  message,
});
