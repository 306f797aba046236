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
}

export declare function decodeBinaryEnvelope(buffer: ArrayBuffer): HeraldBinaryMessage;

declare global {
  interface Window {
    Herald: { HeraldClient: typeof HeraldClient; decodeBinaryEnvelope: typeof decodeBinaryEnvelope };
  }
}
