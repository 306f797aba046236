// GENERATED from herald.js by make-global.py: do not edit. A plain <script>:
//   <script src="herald.global.js"></script>
//   const client = new Herald.HeraldClient("wss://…/ws", { onMessage: … });
(function (global) {
  "use strict";
  // Herald browser/Node client (ES module, no dependencies).
  //
  // Wraps one WebSocket to a Herald gateway (see Docs/PROTOCOL.md):
  // - subscribes in-band and re-subscribes after every reconnect with the
  //   position it had (`since`: epoch and seq), so the server replays what was
  //   missed; `onReset` says when that is impossible (another epoch, or
  //   messages no longer kept: reload the topic from the application);
  // - reports gaps the server announces ({"type":"gap"});
  // - stops on a refused token (close 4001, `onUnauthorized`); with
  //   `getToken` it takes a fresh token before every connect and refreshes
  //   the live connection in-band before the token's `exp` (so a connection
  //   is never closed 4002); drops topics the server refused from
  //   re-subscribes;
  // - reports its state (`onState`: connecting, connected, disconnected with
  //   the close code and reason);
  // - sends {"type":"ping"} when idle (browsers cannot send ping frames) and
  //   reconnects when no answer comes back;
  // - reconnects with capped exponential back-off and jitter;
  // - with `compression: "zstd"`, asks for herald.zstd.v1 and decodes its
  //   frames with libzstd compiled to WebAssembly (served by herald at
  //   /herald-zstd.wasm, or `zstdDecoderUrl`), keeping the topics'
  //   dictionaries; when the decoder cannot load it says so (onError, code
  //   "zstd_unavailable") and keeps permessage-deflate.
  //
  //   const client = new HeraldClient("ws://127.0.0.1:8080/ws", {
  //     onMessage: ({ topic, seq, data }) => ..., onGap: ({ topic, from, to }) => ...,
  //   });
  //   client.subscribe("prices/eur");

  class HeraldClient {
    constructor(url, options = {}) {
      this.url = url;
      this.token = options.token ?? null;
      this.onMessage = options.onMessage ?? (() => {});
      this.onBinary = options.onBinary ?? (() => {});
      this.onGap = options.onGap ?? (() => {});
      this.onReset = options.onReset ?? (() => {});
      this.onUnauthorized = options.onUnauthorized ?? (() => {});
      // Returns (or resolves to) a fresh token: called before every connect
      // and before the current token's `exp` (then sent as `refresh`).
      this.getToken = options.getToken ?? null;
      this.onState = options.onState ?? (() => {});
      this.state = "disconnected";
      this.epochs = new Map(); // topic -> epoch of the last known seq
      this.onError = options.onError ?? (() => {});
      this.onOpen = options.onOpen ?? (() => {});
      this.onClose = options.onClose ?? (() => {});
      // The server pings after 25 s of silence; asking first keeps NAT
      // tables warm and detects a dead path from this side too.
      this.pingIntervalMs = options.pingIntervalMs ?? 20_000;
      this.pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
      this.minDelayMs = options.minDelayMs ?? 500;
      this.maxDelayMs = options.maxDelayMs ?? 30_000;
      this.topics = new Map(); // topic -> last seq seen (0 = none yet)
      this.attempt = 0;
      this.closedByUser = false;
      this.socket = null;
      this.timers = { ping: null, pong: null, reconnect: null, refresh: null };
      // "zstd": herald.zstd.v1 when the decoder loads; anything else: the
      // browser's permessage-deflate.
      this.compression = options.compression ?? "deflate";
      this.zstdDecoderUrl = options.zstdDecoderUrl ?? null;
      // A zstd frame must state its size, and none larger than this is
      // decompressed (no decompression bomb).
      this.maxMessageBytes = options.maxMessageBytes ?? 16 << 20;
      this.zstd = null; // a ZstdDecoder once loaded
      this.zstdFailed = false;
      this.connect();
    }

    // Idempotent: a topic already in the set is subscribed (or will be on
    // the next connect, with its position), so calling this again — from
    // onOpen, say — sends nothing that could be mistaken for a new position.
    subscribe(topic) {
      if (this.topics.has(topic)) return;
      this.topics.set(topic, null);
      this.send(this.subscribeMessage(topic));
    }

    // Extends a live connection with a new token for the same `sub`.
    refresh(token) {
      this.token = token;
      this.send({ type: "refresh", token });
    }

    subscribeMessage(topic) {
      const seq = this.topics.get(topic);
      const epoch = this.epochs.get(topic);
      return seq !== null && seq !== undefined && epoch ? { type: "subscribe", topic, since: { seq, epoch } }
        : { type: "subscribe", topic };
    }

    unsubscribe(topic) {
      this.topics.delete(topic);
      this.send({ type: "unsubscribe", topic });
    }

    // Bytes of zstd message frames received, and what they decoded to.
    get zstdBytes() {
      return this.zstd ? { received: this.zstd.received, decoded: this.zstd.decoded } : { received: 0, decoded: 0 };
    }

    close() {
      this.closedByUser = true;
      this.clearTimers();
      if (this.socket) this.socket.close(1000, "client closing");
    }

    // --- internals -----------------------------------------------------------

    setState(state, details = {}) {
      this.state = state;
      this.onState({ state, ...details });
    }

    connect() {
      this.setState("connecting");
      if (this.compression === "zstd" && this.zstd === null && !this.zstdFailed) {
        // Once per client: the decoder and its dictionaries outlive reconnects.
        loadZstdDecoder(this.zstdDecoderUrl ?? zstdDecoderUrlFor(this.url)).then((decoder) => {
          this.zstd = decoder;
        }, (error) => {
          this.zstdFailed = true;
          this.onError({ type: "error", code: "zstd_unavailable", message: String(error) });
        }).then(() => { if (!this.closedByUser) this.connectWithToken(); });
        return;
      }
      this.connectWithToken();
    }

    connectWithToken() {
      if (!this.getToken) {
        this.open();
        return;
      }
      Promise.resolve().then(() => this.getToken()).then((token) => {
        if (this.closedByUser) return;
        this.token = token;
        this.open();
      }, (error) => {
        this.onError({ type: "error", code: "get_token", message: String(error) });
        this.setState("disconnected", { code: 0, reason: "get_token failed" });
        this.scheduleReconnect();
      });
    }

    open() {
      const query = [];
      if (this.token) query.push(`token=${encodeURIComponent(this.token)}`);
      // Dictionaries kept from an earlier connection are not sent again.
      const held = this.zstd ? this.zstd.heldIds(16) : [];
      if (held.length) query.push(`zstd_dicts=${held.join(",")}`);
      const url = query.length ? `${this.url}${this.url.includes("?") ? "&" : "?"}${query.join("&")}` : this.url;
      const socket = this.zstd ? new WebSocket(url, [ZSTD_SUBPROTOCOL]) : new WebSocket(url);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      socket.onopen = () => {
        this.attempt = 0;
        for (const topic of this.topics.keys()) this.send(this.subscribeMessage(topic));
        this.armPing();
        this.armRefresh(tokenExpiry(this.token));
        this.setState("connected");
        this.onOpen();
      };
      socket.onmessage = (event) => {
        this.armPing();
        if (typeof event.data !== "string" && new Uint8Array(event.data, 0, 1)[0] === 0x5a && this.zstd) {
          let decoded;
          try {
            decoded = this.zstd.decodeFrame(event.data, this.maxMessageBytes);
          } catch (error) {
            // A frame this client cannot read (a dictionary it dropped, a
            // size over its limit): reconnecting resubscribes from the last
            // seq, and the server replays what this frame held.
            this.onError({ type: "error", code: "zstd_frame", message: String(error.message ?? error) });
            socket.close(4000, "undecodable zstd frame");
            return;
          }
          if (decoded === null) return; // a dictionary, kept
          if (typeof decoded !== "string") {
            const envelope = decodeBinaryEnvelope(decoded);
            this.track(envelope.topic, envelope.seq);
            this.onBinary(envelope);
            return;
          }
          this.handle(JSON.parse(decoded));
          return;
        }
        if (typeof event.data !== "string") {
          const envelope = decodeBinaryEnvelope(event.data);
          this.track(envelope.topic, envelope.seq);
          this.onBinary(envelope);
          return;
        }
        this.handle(JSON.parse(event.data));
      };
      socket.onclose = (event) => {
        this.clearTimers();
        this.setState("disconnected", { code: event.code, reason: event.reason });
        this.onClose(event);
        if (this.closedByUser) return;
        if (event.code === 4001 || (event.code === 4002 && !this.getToken)) {
          // A refused token: reconnecting would spin; surface it and stop.
          this.closedByUser = true;
          this.onUnauthorized({ code: event.code, reason: event.reason });
          return;
        }
        // After 4002 too: connect() asks getToken for a fresh token first.
        this.scheduleReconnect();
      };
      socket.onerror = () => {}; // onclose follows and reconnects
    }

    handle(message) {
      switch (message.type) {
        case "message":
          this.track(message.topic, message.seq);
          this.onMessage(message);
          break;
        case "subscribed": {
          const topic = message.topic;
          const last = this.topics.get(topic);
          const known = this.epochs.get(topic);
          if (message.epoch) this.epochs.set(topic, message.epoch);
          // Recovered: the missed messages follow (replayed by the server).
          if (message.recovered === true) break;
          const hadPosition = last !== null && last !== undefined;
          const newEpoch = known && message.epoch && message.epoch !== known;
          if (hadPosition && (message.recovered === false || newEpoch)) {
            this.onReset({ topic, reason: newEpoch ? "epoch" : "not_recovered", epoch: message.epoch, seq: message.seq });
          } else if (hadPosition && message.seq > last) {
            // A server without epochs: say what was missed.
            this.onGap({ topic, from: last + 1, to: message.seq });
          }
          if (this.topics.has(topic)) this.topics.set(topic, message.seq);
          break;
        }
        case "gap":
          this.onGap({ topic: message.topic, from: message.from, to: message.to });
          if (this.topics.has(message.topic)) this.topics.set(message.topic, message.to);
          break;
        case "pong":
          clearTimeout(this.timers.pong);
          break;
        case "refreshed":
          this.armRefresh(message.exp);
          break;
        case "error":
          if (message.topic && ["forbidden", "bad_topic", "too_many_topics", "topic_limit"].includes(message.code)) {
            // Refused for good: not re-sent after every reconnect.
            this.topics.delete(message.topic);
            this.epochs.delete(message.topic);
          } else if (message.topic && message.code === "unavailable" && this.topics.has(message.topic)) {
            // A cluster node could not reach Redis for a new topic: asked
            // again after a jittered delay, on this connection.
            const topic = message.topic;
            const socket = this.socket;
            setTimeout(() => {
              if (this.topics.has(topic) && this.socket === socket && socket.readyState === 1) {
                this.send(this.subscribeMessage(topic));
              }
            }, this.minDelayMs * (1 + Math.random()));
          }
          this.onError(message);
          break;
        default:
          break;
      }
    }

    track(topic, seq) {
      const last = this.topics.get(topic);
      if (last !== null && last !== undefined && seq > last + 1) {
        this.onGap({ topic, from: last + 1, to: seq - 1 });
      }
      if (this.topics.has(topic)) this.topics.set(topic, seq);
    }

    send(object) {
      if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(object));
    }

    armPing() {
      clearTimeout(this.timers.ping);
      this.timers.ping = setTimeout(() => {
        this.send({ type: "ping" });
        this.timers.pong = setTimeout(() => this.socket && this.socket.close(4000, "no pong"), this.pongTimeoutMs);
      }, this.pingIntervalMs);
    }

    // Asks getToken for a new token ahead of `exp` (seconds since the epoch)
    // and sends it in-band: a tenth of the remaining life early, at least 5 s
    // early, and never more often than once a second.
    armRefresh(exp) {
      clearTimeout(this.timers.refresh);
      if (!this.getToken || typeof exp !== "number") return;
      const remaining = exp * 1000 - Date.now();
      const delay = Math.max(1000, remaining - Math.max(5000, remaining / 10));
      this.timers.refresh = setTimeout(() => {
        Promise.resolve().then(() => this.getToken()).then((token) => this.refresh(token),
          (error) => this.onError({ type: "error", code: "get_token", message: String(error) }));
      }, delay);
    }

    scheduleReconnect() {
      const ceiling = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** this.attempt);
      const delay = ceiling / 2 + Math.random() * (ceiling / 2);
      this.attempt += 1;
      this.timers.reconnect = setTimeout(() => this.connect(), delay);
    }

    clearTimers() {
      clearTimeout(this.timers.ping);
      clearTimeout(this.timers.pong);
      clearTimeout(this.timers.reconnect);
      clearTimeout(this.timers.refresh);
    }
  }

  // The `exp` claim of a JWT (seconds since the epoch), or null. Read only to
  // time the refresh: the server is what verifies the token.
  function tokenExpiry(token) {
    if (typeof token !== "string") return null;
    const part = token.split(".")[1];
    if (!part) return null;
    try {
      const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
      const exp = JSON.parse(json).exp;
      return typeof exp === "number" ? exp : null;
    } catch {
      return null;
    }
  }

  // Binary publishes (Docs/PROTOCOL.md): version (1) | topic length (1) |
  // topic | seq (8, big-endian) | payload.
  function decodeBinaryEnvelope(buffer) {
    const view = new DataView(buffer);
    const version = view.getUint8(0);
    if (version !== 1) throw new Error(`unknown binary envelope version ${version}`);
    const topicLength = view.getUint8(1);
    const topic = new TextDecoder().decode(new Uint8Array(buffer, 2, topicLength));
    const seq = Number(view.getBigUint64(2 + topicLength));
    const data = new Uint8Array(buffer, 10 + topicLength);
    return { topic, seq, data };
  }

  // herald.zstd.v1 (Docs/PROTOCOL.md "zstd with trained dictionaries").
  const ZSTD_SUBPROTOCOL = "herald.zstd.v1";
  // Dictionaries kept per client; the oldest go first. The server sends a
  // topic's dictionary once per subscription, so one dropped while still in
  // use makes a frame undecodable, and the client reconnects for it.
  const ZSTD_DICTIONARIES_KEPT = 64;

  // The decoder herald serves next to the WebSocket: ws(s)://host/ws →
  // http(s)://host/herald-zstd.wasm.
  function zstdDecoderUrlFor(webSocketUrl) {
    const url = new URL(webSocketUrl);
    url.protocol = url.protocol === "wss:" ? "https:" : "http:";
    url.pathname = "/herald-zstd.wasm";
    url.search = "";
    return url.toString();
  }

  // Fetches and instantiates libzstd's decoder (WebAssembly, no imports).
  // A fetch that does not finish within `timeoutMs` fails (the client then
  // connects with deflate instead of waiting on a stuck request).
  async function loadZstdDecoder(url, timeoutMs = 10_000) {
    const abort = typeof AbortController === "function" ? new AbortController() : null;
    const timer = setTimeout(() => abort && abort.abort(), timeoutMs);
    try {
      const response = await fetch(url, abort ? { signal: abort.signal } : {});
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), {});
      return new ZstdDecoder(instance.exports);
    } finally {
      clearTimeout(timer);
    }
  }

  // libzstd's decompressor in WebAssembly memory, and the dictionaries the
  // server sent (prepared once each, by id).
  class ZstdDecoder {
    constructor(exports) {
      this.wasm = exports;
      this.dictionaries = new Map(); // id -> { topic, handle }, oldest first
      this.received = 0; // bytes of message frames decoded, and what they held
      this.decoded = 0;
    }

    // The ids kept, most recent first, at most `count` (for `zstd_dicts=`).
    heldIds(count) {
      return [...this.dictionaries.keys()].reverse().slice(0, count);
    }

    copyIn(bytes) {
      const pointer = this.wasm.hz_alloc(bytes.length);
      if (!pointer) throw new Error("zstd decoder out of memory");
      new Uint8Array(this.wasm.memory.buffer, pointer, bytes.length).set(bytes);
      return pointer;
    }

    // One binary frame that starts with 'Z': a dictionary (kept; returns
    // null), or a message — the text (kind 1) or the binary envelope's bytes
    // (kind 2) exactly as a plain subscriber receives them.
    decodeFrame(buffer, limit) {
      const frame = new Uint8Array(buffer);
      if (frame.length < 6) throw new Error("short zstd frame");
      const kind = frame[1];
      const id = new DataView(buffer).getUint32(2);
      if (kind === 3) {
        const topicLength = frame[6];
        if (frame.length < 7 + topicLength) throw new Error("short zstd dictionary frame");
        this.addDictionary(id, new TextDecoder().decode(frame.subarray(7, 7 + topicLength)), frame.subarray(7 + topicLength));
        return null;
      }
      if (kind !== 1 && kind !== 2) throw new Error(`unknown zstd frame kind ${kind}`);
      let dictionary = 0;
      if (id !== 0) {
        const kept = this.dictionaries.get(id);
        if (!kept) throw new Error(`zstd dictionary ${id} was never received (or was dropped)`);
        dictionary = kept.handle;
      }
      const source = this.copyIn(frame.subarray(6));
      let destination = 0;
      try {
        const size = this.wasm.hz_content_size(source, frame.length - 6);
        if (size < 0) throw new Error(size === -3 ? "zstd frame over 2 GiB" : "zstd frame without a content size");
        if (size > limit) throw new Error(`zstd frame of ${size} bytes, over the limit of ${limit}`);
        destination = this.wasm.hz_alloc(size);
        if (!destination) throw new Error("zstd decoder out of memory");
        const written = this.wasm.hz_decompress(destination, size, source, frame.length - 6, dictionary);
        if (written !== size) throw new Error(`corrupt zstd frame (${written})`);
        this.received += frame.length;
        this.decoded += size;
        const bytes = new Uint8Array(this.wasm.memory.buffer, destination, size);
        return kind === 1 ? new TextDecoder().decode(bytes) : bytes.slice().buffer;
      } finally {
        this.wasm.hz_free(source);
        if (destination) this.wasm.hz_free(destination);
      }
    }

    addDictionary(id, topic, bytes) {
      const pointer = this.copyIn(bytes);
      const handle = this.wasm.hz_dictionary_load(pointer, bytes.length);
      this.wasm.hz_free(pointer);
      if (!handle) throw new Error(`zstd dictionary ${id} is not a dictionary`);
      const old = this.dictionaries.get(id);
      if (old) this.wasm.hz_dictionary_free(old.handle);
      this.dictionaries.delete(id);
      this.dictionaries.set(id, { topic, handle });
      while (this.dictionaries.size > ZSTD_DICTIONARIES_KEPT) {
        const [oldest, entry] = this.dictionaries.entries().next().value;
        this.wasm.hz_dictionary_free(entry.handle);
        this.dictionaries.delete(oldest);
      }
    }
  }
  global.Herald = { HeraldClient, decodeBinaryEnvelope, loadZstdDecoder, ZstdDecoder };
})(typeof globalThis !== "undefined" ? globalThis : this);
