// Type declarations for herald.js (ES module) and herald.global.js
// (`window.Herald`). The wire format is Docs/PROTOCOL.md.

export interface HeraldMessage {
  type: "message";
  topic: string;
  seq: number;
  data: unknown;
}

export interface HeraldBinaryMessage {
  topic: string;
  seq: number;
  data: Uint8Array;
}

export interface HeraldGap {
  topic: string;
  from: number;
  to: number;
}

export interface HeraldReset {
  topic: string;
  /** "epoch": the topic's sequence restarted; "not_recovered": missed messages are no longer kept. */
  reason: "epoch" | "not_recovered";
  epoch: string;
  seq: number;
}

export interface HeraldError {
  type: "error";
  code: string;
  message: string;
  topic?: string;
}

export interface HeraldState {
  state: "connecting" | "connected" | "disconnected";
  /** The close code (0 when no connection was made). */
  code?: number;
  reason?: string;
}

export interface HeraldClientOptions {
  /** Connection token (with --jwt-secret on the server). */
  token?: string;
  /**
   * Returns (or resolves to) a fresh token. Called before every connect and
   * ahead of the current token's `exp`, whose result is sent in-band as
   * `refresh`, so a live connection is never closed for expiry (4002).
   */
  getToken?: () => string | Promise<string>;
  /** Connection state changes; `code`/`reason` come with "disconnected". */
  onState?: (state: HeraldState) => void;
  onMessage?: (message: HeraldMessage) => void;
  onBinary?: (message: HeraldBinaryMessage) => void;
  onGap?: (gap: HeraldGap) => void;
  onReset?: (reset: HeraldReset) => void;
  onUnauthorized?: (close: { code: number; reason: string }) => void;
  onError?: (error: HeraldError) => void;
  onOpen?: () => void;
  onClose?: (event: CloseEvent) => void;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  /**
   * "zstd": ask for herald.zstd.v1 and decode it with libzstd in
   * WebAssembly (fetched once from `zstdDecoderUrl`); if the decoder cannot
   * load, onError gets code "zstd_unavailable" and the client keeps
   * "deflate" (the default: the browser's permessage-deflate).
   */
  compression?: "deflate" | "zstd";
  /** Where the decoder is; default: http(s)://HOST/herald-zstd.wasm of the WebSocket URL. */
  zstdDecoderUrl?: string;
  /** No zstd frame larger than this is decompressed (default 16 MiB). */
  maxMessageBytes?: number;
}

export declare class HeraldClient {
  constructor(url: string, options?: HeraldClientOptions);
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Extends the live connection with a new token for the same `sub`. */
  refresh(token: string): void;
  close(): void;
  /** The current connection state. */
  readonly state: "connecting" | "connected" | "disconnected";
  /** The current WebSocket (its `protocol` is "herald.zstd.v1" when zstd was negotiated). */
  readonly socket: WebSocket | null;
  /** Bytes of zstd message frames received and what they decoded to. */
  readonly zstdBytes: { received: number; decoded: number };
}

/** libzstd's decoder (WebAssembly) and the dictionaries the server sent. */
export declare class ZstdDecoder {
  /** Ids of the dictionaries kept, most recent first. */
  heldIds(count: number): number[];
  /**
   * One herald.zstd.v1 frame (first byte 'Z'): null for a dictionary (kept),
   * else the message text (kind 1) or the binary envelope (kind 2). Throws
   * on a frame it cannot decode or one larger than `limit`.
   */
  decodeFrame(buffer: ArrayBuffer, limit: number): string | ArrayBuffer | null;
}

/** Fetches and instantiates herald-zstd.wasm (fails after `timeoutMs`, default 10 s). */
export declare function loadZstdDecoder(url: string, timeoutMs?: number): Promise<ZstdDecoder>;

export declare function decodeBinaryEnvelope(buffer: ArrayBuffer): HeraldBinaryMessage;

declare global {
  interface Window {
    Herald: {
      HeraldClient: typeof HeraldClient;
      decodeBinaryEnvelope: typeof decodeBinaryEnvelope;
      loadZstdDecoder: typeof loadZstdDecoder;
      ZstdDecoder: typeof ZstdDecoder;
    };
  }
}
