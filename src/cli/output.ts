// Where commands write: injected so tests can capture output. stdout takes bytes too: keys and
// values are written exactly as stored, not decoded and re-encoded.
export interface Output {
  stdout(text: string | Uint8Array): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal (progress display). */
  readonly isTty: boolean;
  /**
   * The raw bytes of the command's arguments, index for index with the strings it parses, when
   * known (processArgvBytes: Node decodes argv as UTF-8, losing bytes that are not UTF-8).
   */
  readonly argvBytes?: readonly Buffer[] | undefined;
}

export const processOutput = (argvBytes?: readonly Buffer[]): Output => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTty: process.stderr.isTTY === true,
  argvBytes,
});

/** An Output that keeps what was written (tests, and callers that run commands in-process). */
export function capturedOutput(
  argvBytes?: readonly Buffer[],
): Output & { out: string; outBytes(): Buffer; err: string } {
  const chunks: Buffer[] = [];
  const o = {
    out: "",
    err: "",
    isTty: false,
    argvBytes,
    outBytes: () => Buffer.concat(chunks),
    stdout: (t: string | Uint8Array) => {
      const b = typeof t === "string" ? Buffer.from(t) : Buffer.from(t);
      chunks.push(b);
      o.out += b.toString();
    },
    stderr: (t: string) => {
      o.err += t;
    },
  };
  return o;
}
