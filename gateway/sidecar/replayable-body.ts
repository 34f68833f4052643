import type { Readable } from 'node:stream';

/** Where an attempt's request body goes: an upstream request (http.ClientRequest or an HTTP/2 stream). */
export interface BodySink {
  write(chunk: Buffer): boolean;
  end(): void;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * A downstream request body that several attempts can send, as Envoy's
 * router does: chunks go to the current attempt as they arrive (so
 * streaming requests are not held back) and a copy is kept, so a retry
 * replays what was sent and continues live. Past `limit` bytes the copy
 * is dropped and the body can no longer be replayed (no more retries).
 * The source is paused while the current attempt cannot take more.
 */
export class ReplayableBody {
  private readonly chunks: Buffer[] = [];
  private copied = 0;
  private overflowed = false;
  private ended = false;
  private failed: Error | undefined;
  private sink: BodySink | undefined;
  private received = 0;

  constructor(
    private readonly source: Readable | undefined,
    private readonly limit: number,
  ) {
    if (!source) {
      this.ended = true;
      return;
    }
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => {
      this.ended = true;
      this.sink?.end();
    });
    source.on('error', (error: Error) => (this.failed = error));
  }

  /** Bytes received from downstream so far. */
  bytesReceived(): number {
    return this.received;
  }

  /** Whether a new attempt can be given the whole body. */
  replayable(): boolean {
    return !this.overflowed && !this.failed;
  }

  /** Sends the body to a new attempt: what was received so far, then the rest as it comes. Replaces the previous sink. */
  attach(sink: BodySink): void {
    if (!this.replayable() && this.sink) throw new Error('the request body can no longer be replayed');
    this.sink = sink;
    for (const chunk of this.chunks) sink.write(chunk);
    if (this.ended) sink.end();
  }

  /** Stops feeding the current attempt (it failed or was abandoned). */
  detach(): void {
    this.sink = undefined;
    this.source?.resume();
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    if (!this.overflowed) {
      this.copied += chunk.length;
      if (this.copied > this.limit) {
        this.overflowed = true;
        this.chunks.length = 0;
      } else this.chunks.push(chunk);
    }
    const sink = this.sink;
    if (sink && !sink.write(chunk)) {
      this.source?.pause();
      sink.once('drain', () => this.source?.resume());
    }
  }
}
