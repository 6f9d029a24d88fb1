// A JSON gateway stream (POST /v3/watch, /v3/lease/keepalive, /v3/maintenance/snapshot) read
// line by line with fetch: each line is one `{"result": ...}` or the closing `{"error": ...}`.
// Waits are by what arrives, each bounded by a deadline.

export interface GatewayStream {
  readonly status: number;
  readonly headers: Headers;
  /** Every object read so far, in order. */
  readonly objects: readonly Record<string, unknown>[];
  /** Resolves with the first object (from the start) matching `match`; rejects after `ms`. */
  next(
    match: (o: Record<string, unknown>) => boolean,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves once the server ended the response (bounded by `ms`). */
  ended(ms?: number): Promise<void>;
  /** Hangs up, as a client going away. */
  close(): void;
}

export async function openStream(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<GatewayStream> {
  const abort = new AbortController();
  const res = await fetch(url, { method: "POST", body, headers, signal: abort.signal });
  const objects: Record<string, unknown>[] = [];
  let done = false;
  let failure: unknown;
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of waiters) w();
  };
  const reading = (async () => {
    if (res.body === null) return;
    const decoder = new TextDecoder();
    let text = "";
    // Bounded by the response: each turn consumes one chunk of it.
    for await (const chunk of res.body) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      let newline = text.indexOf("\n");
      while (newline >= 0) {
        const line = text.slice(0, newline).trim();
        text = text.slice(newline + 1);
        if (line !== "") objects.push(JSON.parse(line) as Record<string, unknown>);
        newline = text.indexOf("\n");
      }
      wake();
    }
    if (text.trim() !== "") objects.push(JSON.parse(text) as Record<string, unknown>);
  })()
    .catch((e: unknown) => {
      failure = e;
    })
    .finally(() => {
      done = true;
      wake();
    });
  void reading;
  const waitFor = <T>(found: () => T | undefined, ms: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = found();
        if (value !== undefined) finish(() => resolve(value));
        else if (done)
          finish(() => reject(new Error(`stream ended before ${what} (${String(failure)})`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no ${what} within ${ms} ms: ${show(objects)}`))),
        ms,
      );
      const finish = (then: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        then();
      };
      waiters.add(check);
      check();
    });
  return {
    status: res.status,
    headers: res.headers,
    objects,
    next: (match, ms = 5_000) => waitFor(() => objects.find(match), ms, "matching object"),
    ended: (ms = 5_000) => waitFor(() => (done ? true : undefined), ms, "the end").then(() => {}),
    close: () => abort.abort(),
  };
}

const show = (objects: readonly unknown[]): string => JSON.stringify(objects).slice(0, 2000);

/** Polls `read` until it returns `want`, at most `ms` (for counters that settle after a close). */
export async function settlesTo<T>(read: () => T, want: T, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  // Bounded by the deadline.
  while (read() !== want) {
    if (Date.now() > deadline) throw new Error(`still ${String(read())}, not ${String(want)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
