// Clients that send a URL as HTTP/2's :authority, and how they are still served.
//
// etcd 3.4's clientv3 dials some connections (the Maintenance calls of `endpoint status`,
// `endpoint hashkv`, `defrag`, `move-leader`, and every `--cluster` form) with the endpoint
// string itself as gRPC target, so grpc-go sends `:authority: http://127.0.0.1:2379`. Go's
// HTTP/2 server (etcd's) accepts that; nghttp2, under node:http2, checks :authority against
// RFC 3986's authority characters, finds the '/', and resets the stream with PROTOCOL_ERROR
// before node ever sees it — no option turns that check off. Ordo ignores :authority (one
// member, one service set), so such a connection is served with its :authority rewritten to
// its host:port, in JavaScript, before nghttp2 reads it.
//
// Only connections that need it pay for that. A connection opens in a short pre-session
// (H2cOpening): this side sends an empty SETTINGS frame at once (grpc-go waits for the server's
// SETTINGS before its first request), answers PINGs, drops the client's ACK of that SETTINGS
// frame, and holds every other byte, until the client's first header block is complete. If
// that block's :authority is valid (grpc-js, Go clients given host:port, etcd's benchmark) the
// socket with the held bytes goes to nghttp2 as it is: the fast path, no copy from then on. If
// not, the connection is served through an AuthorityShim: a Duplex between the socket and
// node:http2 that passes every frame through unchanged except header blocks, which it decodes
// (HPACK, RFC 7541, with hpack.js) and re-encodes as literals without indexing, :authority
// rewritten. Never indexing keeps nghttp2's decoding table empty, so what the client's encoder
// indexes needs no mirroring. nghttp2 then sends its own SETTINGS, which the client acknowledges
// as usual: two SETTINGS frames from a server are allowed (RFC 9113 §6.5).
//
// Bounds: the pre-session holds at most PRE_SESSION_BYTES_MAX; a header block is at most
// HEADER_BLOCK_BYTES_MAX; HPACK that does not decode closes that one connection.
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import hpack from "hpack.js";

const FRAME_HEADER_BYTES = 9;
const PREFACE_BYTES = 24;
const TYPE_DATA = 0x0;
const TYPE_HEADERS = 0x1;
const TYPE_SETTINGS = 0x4;
const TYPE_PING = 0x6;
const TYPE_CONTINUATION = 0x9;
const FLAG_ACK = 0x1;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE's default, which node:http2 keeps: frames we write fit in it. */
const MAX_FRAME_BYTES = 16_384;
/** SETTINGS_HEADER_TABLE_SIZE's default, which node:http2 advertises: the client's table. */
const HEADER_TABLE_BYTES = 4096;
const PRE_SESSION_BYTES_MAX = 256 * 1024;
const HEADER_BLOCK_BYTES_MAX = 1024 * 1024;

/** nghttp2's check (nghttp2_check_authority): RFC 3986 authority characters only. */
export function isValidAuthority(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) || // 0-9
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x61 && c <= 0x7a) || // a-z
      "-._~%!$&'()*+,;=:@[]".includes(value[i] as string);
    if (!ok) return false;
  }
  return true;
}

/** "http://127.0.0.1:2379/x" → "127.0.0.1:2379"; what is left invalid becomes '_'. */
export function authorityOf(value: string): string {
  let v = value;
  const scheme = v.indexOf("://");
  if (scheme >= 0) v = v.slice(scheme + 3);
  const slash = v.indexOf("/");
  if (slash >= 0) v = v.slice(0, slash);
  let out = "";
  for (const ch of v) out += isValidAuthority(ch) ? ch : "_";
  return out;
}

interface HeaderField {
  readonly name: string;
  readonly value: string;
  readonly neverIndex: boolean;
}

/** One connection's HPACK decoding state (the client's encoder's dynamic table, mirrored). */
class HeaderDecoder {
  // biome-ignore lint/suspicious/noExplicitAny: hpack.js has no types.
  private readonly decompressor: any = hpack.decompressor.create({
    table: { maxSize: HEADER_TABLE_BYTES },
  });
  private fields: HeaderField[] = [];

  constructor() {
    // hpack.js pushes each decoded field into a readable stream; collected here synchronously.
    this.decompressor.push = (field: HeaderField) => {
      this.fields.push(field);
      return true;
    };
  }

  /** Decodes one complete header block (throws on bad HPACK). */
  decode(block: Buffer): HeaderField[] {
    this.fields = [];
    this.decompressor._decoder.push(block);
    while (!this.decompressor._decoder.isEmpty()) this.decompressor._execute();
    return this.fields;
  }
}

/** The :authority of a header block, or undefined (bad HPACK included). */
function firstAuthority(block: Buffer): string | undefined {
  try {
    return new HeaderDecoder().decode(block).find((f) => f.name === ":authority")?.value;
  } catch {
    return undefined;
  }
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return h;
}

/** HPACK's integer with an N-bit prefix (RFC 7541 §5.1), first byte ORed with `high`. */
function pushInt(out: number[], value: number, prefixBits: number, high: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(high | value);
    return;
  }
  out.push(high | max);
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function pushString(out: number[], s: string): void {
  pushInt(out, s.length, 7, 0);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

/** A header list as literals never added to the decoder's table (RFC 7541 §6.2.2, §6.2.3). */
function encodeLiterals(fields: readonly HeaderField[]): Buffer {
  const out: number[] = [];
  for (const f of fields) {
    out.push(f.neverIndex ? 0x10 : 0x00);
    pushString(out, f.name);
    pushString(out, f.name === ":authority" ? authorityOf(f.value) : f.value);
  }
  return Buffer.from(out);
}

/** Where a HEADERS frame's block fragment lies in its payload, and its priority bytes. */
function headersFragment(
  payload: Buffer,
  flags: number,
): { fragment: Buffer; priority: Buffer | undefined } {
  let start = 0;
  let end = payload.length;
  if (flags & FLAG_PADDED) {
    const pad = payload[0] ?? 0;
    start = 1;
    end -= pad;
  }
  let priority: Buffer | undefined;
  if (flags & FLAG_PRIORITY) {
    priority = payload.subarray(start, start + 5);
    start += 5;
  }
  if (end < start) throw new Error("HEADERS frame: padding longer than the payload");
  return { fragment: payload.subarray(start, end), priority };
}

/**
 * Splits a stream of HTTP/2 client bytes (after the preface) into frames, joining each header
 * block's HEADERS and CONTINUATION frames; `onFrame` sees every frame, `onBlock` each complete
 * header block with the frames that carried it.
 */
class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  private block: { streamId: number; flags: number; priority: Buffer | undefined } | undefined;
  private blockParts: Buffer[] = [];
  private blockFrames: Buffer[] = [];
  private blockBytes = 0;

  constructor(
    private readonly onFrame: (frame: Buffer, type: number, flags: number) => void,
    private readonly onBlock: (
      block: Buffer,
      streamId: number,
      flags: number,
      priority: Buffer | undefined,
      frames: Buffer[],
    ) => void,
  ) {}

  /** Bytes not yet passed on: a header block and a frame not yet complete (then forgotten). */
  takePending(): Buffer {
    const p = Buffer.concat([...this.blockFrames, this.pending]);
    this.pending = Buffer.alloc(0);
    this.block = undefined;
    this.blockParts = [];
    this.blockFrames = [];
    return p;
  }

  feed(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    while (this.pending.length - off >= FRAME_HEADER_BYTES) {
      const length = this.pending.readUIntBE(off, 3);
      if (this.pending.length - off < FRAME_HEADER_BYTES + length) break;
      const frame = this.pending.subarray(off, off + FRAME_HEADER_BYTES + length);
      off += FRAME_HEADER_BYTES + length;
      this.frame(frame);
    }
    this.pending = off === this.pending.length ? Buffer.alloc(0) : this.pending.subarray(off);
  }

  private frame(frame: Buffer): void {
    const type = frame[3] as number;
    const flags = frame[4] as number;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    if (type === TYPE_HEADERS) {
      if (this.block !== undefined) throw new Error("HEADERS inside a header block");
      const { fragment, priority } = headersFragment(payload, flags);
      this.block = { streamId, flags, priority };
      this.blockParts = [fragment];
      this.blockFrames = [frame];
      this.blockBytes = fragment.length;
      if (flags & FLAG_END_HEADERS) this.endBlock();
      return;
    }
    if (type === TYPE_CONTINUATION) {
      if (this.block === undefined || streamId !== this.block.streamId)
        throw new Error("CONTINUATION outside a header block");
      this.blockParts.push(payload);
      this.blockFrames.push(frame);
      this.blockBytes += payload.length;
      if (this.blockBytes > HEADER_BLOCK_BYTES_MAX) throw new Error("header block too large");
      if (flags & FLAG_END_HEADERS) this.endBlock();
      return;
    }
    if (this.block !== undefined) throw new Error("frame inside a header block");
    this.onFrame(frame, type, flags);
  }

  private endBlock(): void {
    const b = this.block;
    if (b === undefined) return;
    this.block = undefined;
    const block =
      this.blockParts.length === 1 ? this.blockParts[0] : Buffer.concat(this.blockParts);
    this.onBlock(block as Buffer, b.streamId, b.flags, b.priority, this.blockFrames);
    this.blockParts = [];
    this.blockFrames = [];
  }
}

/**
 * A connection served through JavaScript: socket bytes go to node:http2 with every header
 * block re-encoded (:authority rewritten); node:http2's bytes go to the socket unchanged.
 */
export class AuthorityShim extends Duplex {
  private readonly decoder = new HeaderDecoder();
  private readonly reader: FrameReader;
  private prefaceLeft = PREFACE_BYTES;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
  ) {
    super({ allowHalfOpen: false });
    this.reader = new FrameReader(
      (frame) => this.forward(frame),
      (block, streamId, flags, priority) => this.reencode(block, streamId, flags, priority),
    );
    socket.on("data", (chunk: Buffer) => this.fromSocket(chunk));
    socket.on("end", () => this.push(null));
    socket.on("close", () => this.destroy());
    socket.on("error", (error) => this.destroy(error));
    socket.on("drain", () => this.emit("socketDrain"));
    this.fromSocket(head);
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  private fromSocket(chunk: Buffer): void {
    if (this.destroyed) return;
    try {
      let rest = chunk;
      if (this.prefaceLeft > 0) {
        const n = Math.min(this.prefaceLeft, rest.length);
        this.forward(rest.subarray(0, n));
        this.prefaceLeft -= n;
        rest = rest.subarray(n);
      }
      if (rest.length > 0) this.reader.feed(rest);
    } catch (error) {
      this.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private forward(bytes: Buffer): void {
    if (!this.push(bytes)) this.socket.pause();
  }

  private reencode(
    block: Buffer,
    streamId: number,
    flags: number,
    priority: Buffer | undefined,
  ): void {
    const encoded = encodeLiterals(this.decoder.decode(block));
    const firstRoom = MAX_FRAME_BYTES - (priority?.length ?? 0);
    const first = encoded.subarray(0, firstRoom);
    let rest = encoded.subarray(first.length);
    const headersFlags =
      (flags & (FLAG_END_STREAM | FLAG_PRIORITY)) | (rest.length === 0 ? FLAG_END_HEADERS : 0);
    const payload = priority === undefined ? first : Buffer.concat([priority, first]);
    this.forward(
      Buffer.concat([frameHeader(payload.length, TYPE_HEADERS, headersFlags, streamId), payload]),
    );
    while (rest.length > 0) {
      const part = rest.subarray(0, MAX_FRAME_BYTES);
      rest = rest.subarray(part.length);
      const f = rest.length === 0 ? FLAG_END_HEADERS : 0;
      this.forward(Buffer.concat([frameHeader(part.length, TYPE_CONTINUATION, f, streamId), part]));
    }
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error) => void): void {
    if (this.socket.write(chunk)) callback();
    else this.once("socketDrain", () => callback());
  }

  override _final(callback: (e?: Error) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (e: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}

export interface OpeningOutcome {
  /** The client's first header block named a valid :authority: hand the socket to nghttp2. */
  native(socket: Socket, held: Buffer): void;
  /** It did not: serve the connection through this shim. */
  shimmed(shim: AuthorityShim): void;
}

/**
 * The pre-session of one h2c connection (see the top of this file). `head` starts with the
 * client preface; the socket is paused and owned from here.
 */
export function openH2c(socket: Socket, head: Buffer, outcome: OpeningOutcome): void {
  const held: Buffer[] = [head.subarray(0, PREFACE_BYTES)];
  let heldBytes = PREFACE_BYTES;
  let ackSeen = false;
  let firstBlock: Buffer | undefined;
  let decided = false;

  const decide = (): void => {
    if (decided) return;
    decided = true;
    socket.off("data", onData);
    socket.pause();
    const bytes = Buffer.concat(held);
    const authority = firstBlock === undefined ? undefined : firstAuthority(firstBlock);
    if (authority === undefined || isValidAuthority(authority)) outcome.native(socket, bytes);
    else outcome.shimmed(new AuthorityShim(socket, bytes));
  };
  const reader = new FrameReader(
    (frame, type, flags) => {
      if (type === TYPE_SETTINGS && flags & FLAG_ACK && !ackSeen) {
        ackSeen = true; // the ACK of our SETTINGS: nghttp2 never sent it, so never sees it
      } else if (type === TYPE_PING && firstBlock === undefined) {
        if (!(flags & FLAG_ACK)) {
          socket.write(Buffer.concat([frameHeader(8, TYPE_PING, FLAG_ACK, 0), frame.subarray(9)]));
        }
      } else {
        held.push(frame);
        heldBytes += frame.length;
        // Anything but settings, flow control and priority before a request: nghttp2 judges.
        if (firstBlock === undefined && type === TYPE_DATA) firstBlock = Buffer.alloc(0);
      }
    },
    (block, _streamId, _flags, _priority, frames) => {
      for (const f of frames) {
        held.push(f);
        heldBytes += f.length;
      }
      if (firstBlock === undefined) firstBlock = block;
    },
  );
  const onData = (chunk: Buffer): void => {
    try {
      reader.feed(chunk);
    } catch {
      socket.destroy(); // framing no HTTP/2 endpoint would accept
      return;
    }
    // Decided between chunks only, so that every byte of this one is held (a frame cut at
    // the chunk's end too).
    if (heldBytes > PRE_SESSION_BYTES_MAX) firstBlock ??= Buffer.alloc(0);
    if (firstBlock !== undefined && (ackSeen || heldBytes > PRE_SESSION_BYTES_MAX)) {
      held.push(reader.takePending());
      decide();
    }
  };
  // Our SETTINGS first: an empty frame, every setting at its default (node's are the same
  // for what a client's first request depends on); nghttp2 sends its own after the hand-over.
  socket.write(frameHeader(0, TYPE_SETTINGS, 0, 0));
  socket.on("data", onData);
  const rest = head.subarray(PREFACE_BYTES);
  if (rest.length > 0) onData(rest);
  if (!decided) socket.resume();
}
