// A small QMP client: JSON lines over QEMU's unix control socket.
// Protocol: QEMU sends a greeting, we send qmp_capabilities, then execute commands; replies
// carry the "id" we sent, asynchronous events carry "event".
import * as net from 'node:net';
import { EventEmitter } from 'node:events';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpGreeting {
  QMP: { version: { qemu: { major: number; minor: number; micro: number }; package?: string }; capabilities: unknown[] };
}

/** What one line from QEMU may be: its greeting, an event, or the reply to a command we sent. */
type QmpMessage = Partial<QmpGreeting> & Partial<QmpEvent> & { id?: unknown; return?: unknown; error?: { class?: string; desc?: string } };

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  command: string;
}

/** Emits "event" (QmpEvent) and "close" (). */
export class QmpClient extends EventEmitter {
  private buf = '';
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private closed = false;
  greeting?: QmpGreeting;

  private constructor(private readonly sock: net.Socket) {
    super();
  }

  /** Connects, reads the greeting and negotiates capabilities. Rejects after timeoutMs. */
  static connect(socketPath: string, timeoutMs = 5000): Promise<QmpClient> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(socketPath);
      const c = new QmpClient(sock);
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new Error(`QMP ${socketPath}: no greeting within ${timeoutMs} ms`)), timeoutMs);
      sock.on('error', (e) => {
        fail(new Error(`QMP ${socketPath}: ${e.message}`));
        c.shutdown(new Error(`QMP ${socketPath}: ${e.message}`));
      });
      sock.on('close', () => {
        fail(new Error(`QMP ${socketPath}: closed before the greeting`));
        c.shutdown(new Error(`QMP ${socketPath}: connection closed`));
      });
      sock.setEncoding('utf8');
      sock.on('data', (chunk: string) => c.onData(chunk));
      c.once('greeting', () => {
        c.execute('qmp_capabilities')
          .then(() => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(c);
          })
          .catch((e: Error) => fail(e));
      });
    });
  }

  /** Runs a QMP command; resolves with its "return", rejects with its error description. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`QMP ${command}: connection closed`));
    const id = String(this.nextId++);
    const msg: Record<string, unknown> = { execute: command, id };
    if (args) msg.arguments = args;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, command });
      this.sock.write(JSON.stringify(msg) + '\n');
    });
  }

  close(): void {
    this.sock.destroy();
    this.shutdown(new Error('QMP: closed by client'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private shutdown(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new Error(`${err.message} (while running ${p.command})`));
    this.pending.clear();
    this.emit('close');
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: QmpMessage;
      try {
        msg = JSON.parse(line) as QmpMessage;
      } catch {
        continue; // QMP only sends JSON objects; ignore anything torn.
      }
      this.onMessage(msg);
    }
  }

  private onMessage(msg: QmpMessage): void {
    if (msg.QMP !== undefined) {
      this.greeting = { QMP: msg.QMP };
      this.emit('greeting', this.greeting);
      return;
    }
    if (typeof msg.event === 'string') {
      this.emit('event', { event: msg.event, data: msg.data, timestamp: msg.timestamp });
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id !== undefined ? this.pending.get(id) : undefined;
    if (!p || id === undefined) return;
    this.pending.delete(id);
    if (msg.error !== undefined) {
      const err = msg.error;
      p.reject(new Error(`QMP ${p.command}: ${err.class ?? 'Error'}: ${err.desc ?? 'unknown error'}`));
    } else {
      p.resolve(msg.return);
    }
  }
}
