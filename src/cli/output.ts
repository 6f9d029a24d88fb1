// Where commands write: injected so tests can capture output.
export interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal (progress display). */
  readonly isTty: boolean;
}

export const processOutput = (): Output => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTty: process.stderr.isTTY === true,
});

/** An Output that keeps what was written (tests, and callers that run commands in-process). */
export function capturedOutput(): Output & { out: string; err: string } {
  const o = {
    out: "",
    err: "",
    isTty: false,
    stdout: (t: string) => {
      o.out += t;
    },
    stderr: (t: string) => {
      o.err += t;
    },
  };
  return o;
}
