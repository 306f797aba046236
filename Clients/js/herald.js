// Herald browser/Node client (ES module, no dependencies).
//
// Wraps one WebSocket to a Herald gateway (see Docs/PROTOCOL.md):
// - subscribes in-band and re-subscribes after every reconnect;
// - tracks each topic's seq and reports what was missed, whether the server
//   announced it ({"type":"gap"}) or the connection dropped in between
//   (the `subscribed` reply carries the topic's last seq);
// - sends {"type":"ping"} when idle (browsers cannot send ping frames) and
//   reconnects when no answer comes back;
// - reconnects with capped exponential back-off and jitter.
//
//   const client = new HeraldClient("ws://127.0.0.1:8080/ws", {
//     onMessage: ({ topic, seq, data }) => ..., onGap: ({ topic, from, to }) => ...,
//   });
//   client.subscribe("prices/eur");

export class HeraldClient {
  constructor(url, options = {}) {
    this.url = url;
    this.token = options.token ?? null;
    this.onMessage = options.onMessage ?? (() => {});
    this.onBinary = options.onBinary ?? (() => {});
    this.onGap = options.onGap ?? (() => {});
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
    this.timers = { ping: null, pong: null, reconnect: null };
    this.connect();
  }

  subscribe(topic) {
    if (!this.topics.has(topic)) this.topics.set(topic, null);
    this.send({ type: "subscribe", topic });
  }

  unsubscribe(topic) {
    this.topics.delete(topic);
    this.send({ type: "unsubscribe", topic });
  }

  close() {
    this.closedByUser = true;
    this.clearTimers();
    if (this.socket) this.socket.close(1000, "client closing");
  }

  // --- internals -----------------------------------------------------------

  connect() {
    const url = this.token ? `${this.url}${this.url.includes("?") ? "&" : "?"}token=${encodeURIComponent(this.token)}` : this.url;
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      for (const topic of this.topics.keys()) this.send({ type: "subscribe", topic });
      this.armPing();
      this.onOpen();
    };
    socket.onmessage = (event) => {
      this.armPing();
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
      this.onClose(event);
      if (!this.closedByUser) this.scheduleReconnect();
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
        // After a reconnect: everything published while we were away is lost.
        const last = this.topics.get(message.topic);
        if (last !== null && last !== undefined && message.seq > last) {
          this.onGap({ topic: message.topic, from: last + 1, to: message.seq });
        }
        if (this.topics.has(message.topic)) this.topics.set(message.topic, message.seq);
        break;
      }
      case "gap":
        this.onGap({ topic: message.topic, from: message.from, to: message.to });
        if (this.topics.has(message.topic)) this.topics.set(message.topic, message.to);
        break;
      case "pong":
        clearTimeout(this.timers.pong);
        break;
      case "error":
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
  }
}

// Binary publishes (Docs/PROTOCOL.md): version (1) | topic length (1) |
// topic | seq (8, big-endian) | payload.
export function decodeBinaryEnvelope(buffer) {
  const view = new DataView(buffer);
  const version = view.getUint8(0);
  if (version !== 1) throw new Error(`unknown binary envelope version ${version}`);
  const topicLength = view.getUint8(1);
  const topic = new TextDecoder().decode(new Uint8Array(buffer, 2, topicLength));
  const seq = Number(view.getBigUint64(2 + topicLength));
  const data = new Uint8Array(buffer, 10 + topicLength);
  return { topic, seq, data };
}
