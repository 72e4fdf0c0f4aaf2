/**
 * In-memory conversations of the Slack sandbox: messages, thread replies,
 * edits, deletions and a deterministic data clock. Pure data and rules; the
 * HTTP side lives in router.ts and methods.ts.
 *
 * Message `ts` values come from a logical clock that starts at a fixed
 * instant and ticks one second per write, with a running sequence as the
 * six fraction digits, so seeded content is the same on every run and every
 * `ts` is unique and increasing, as Slack's are within a conversation.
 */

export interface SandboxMessage {
  type: 'message';
  ts: string;
  text: string;
  user?: string;
  bot_id?: string;
  app_id?: string;
  subtype?: string;
  thread_ts?: string;
  reply_count?: number;
  reply_users_count?: number;
  latest_reply?: string;
  edited?: { user: string; ts: string };
  blocks?: Record<string, unknown>[];
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  team: string;
}

export interface NewMessage {
  text: string;
  user?: string;
  botId?: string;
  appId?: string;
  threadTs?: string;
  replyBroadcast?: boolean;
  blocks?: Record<string, unknown>[];
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
}

export interface HistoryQuery {
  oldest?: string;
  latest?: string;
  inclusive: boolean;
  limit: number;
  /** Continue with messages at or before this ts (decoded from the page cursor). */
  before?: string;
}

export type Deletion = { kind: 'deleted'; previous: SandboxMessage; eventTs: string } | { kind: 'tombstoned'; message: SandboxMessage; previous: SandboxMessage; eventTs: string };

interface Conversation {
  id: string;
  name: string;
  member: boolean;
  /** Top-level messages and broadcast replies, ascending by ts. */
  messages: SandboxMessage[];
  /** Thread replies by parent ts. */
  replies: Map<string, SandboxMessage[]>;
}

const USERS = ['U0SANDBOX1', 'U0SANDBOX2', 'U0SANDBOX3'] as const;
const WORDS = ['deploy', 'review', 'lunch', 'standup', 'incident', 'release', 'roadmap', 'coffee', 'retro', 'metrics', 'docs', 'bug'] as const;

export class SlackSandboxState {
  private readonly conversations = new Map<string, Conversation>();
  private clockSeconds: number;
  private sequence = 0;
  private random: () => number;

  constructor(
    readonly teamId: string,
    clockStart: string,
    seed: number,
  ) {
    this.clockSeconds = Math.floor(Date.parse(clockStart) / 1000);
    this.random = mulberry32(seed);
  }

  ensureChannel(id: string, name = id.toLowerCase()): void {
    if (!this.conversations.has(id)) this.conversations.set(id, { id, name, member: true, messages: [], replies: new Map() });
  }

  hasChannel(id: string): boolean {
    return this.conversations.has(id);
  }

  isMember(id: string): boolean {
    return this.conversations.get(id)?.member === true;
  }

  setMember(id: string, member: boolean): void {
    this.ensureChannel(id);
    const c = this.conversations.get(id);
    if (c) c.member = member;
  }

  /** `n` messages from the seeded users, deterministic for a given seed; every 10th starts a two-reply thread. */
  seedMessages(channel: string, n: number): SandboxMessage[] {
    this.ensureChannel(channel);
    const out: SandboxMessage[] = [];
    for (let i = 0; i < n; i++) {
      const user = USERS[Math.floor(this.random() * USERS.length)] ?? USERS[0];
      const words = Array.from({ length: 3 + Math.floor(this.random() * 5) }, () => WORDS[Math.floor(this.random() * WORDS.length)] ?? 'bug');
      const message = this.post(channel, { text: `${words.join(' ')} (#${i + 1})`, user });
      if ((i + 1) % 10 === 0) {
        this.post(channel, { text: 'on it', user: USERS[1], threadTs: message.ts });
        this.post(channel, { text: 'done', user: USERS[2], threadTs: message.ts });
      }
      out.push(this.get(channel, message.ts) ?? message);
    }
    return out;
  }

  /** Posts a message (or a thread reply); the conversation is created when missing. */
  post(channel: string, input: NewMessage): SandboxMessage {
    this.ensureChannel(channel);
    const c = this.conversation(channel);
    const message: SandboxMessage = { type: 'message', ts: this.tick(), text: input.text, team: this.teamId };
    if (input.user !== undefined) message.user = input.user;
    if (input.botId !== undefined) message.bot_id = input.botId;
    if (input.appId !== undefined) message.app_id = input.appId;
    if (input.blocks !== undefined) message.blocks = input.blocks;
    if (input.metadata !== undefined) message.metadata = input.metadata;
    if (input.threadTs === undefined) {
      c.messages.push(message);
      return structuredClone(message);
    }
    const parent = c.messages.find((m) => m.ts === input.threadTs);
    if (!parent) throw new Error(`sandbox: no thread parent ${channel}:${input.threadTs}`);
    message.thread_ts = parent.ts;
    const replies = c.replies.get(parent.ts) ?? [];
    replies.push(message);
    c.replies.set(parent.ts, replies);
    parent.thread_ts = parent.ts;
    parent.reply_count = replies.length;
    parent.reply_users_count = new Set(replies.map((r) => r.user ?? r.bot_id)).size;
    parent.latest_reply = message.ts;
    // "Also send to channel": the reply shows in the channel history as well.
    if (input.replyBroadcast === true) c.messages.push({ ...message, subtype: 'thread_broadcast' });
    return structuredClone(message);
  }

  get(channel: string, ts: string): SandboxMessage | undefined {
    const c = this.conversations.get(channel);
    const found = c?.messages.find((m) => m.ts === ts) ?? [...(c?.replies.values() ?? [])].flat().find((m) => m.ts === ts);
    return found && structuredClone(found);
  }

  /** Edits the text: `ts` stays (so `oldest` never sees it again), `edited` records who and when. */
  edit(channel: string, ts: string, text: string, by: string, blocks?: Record<string, unknown>[]): { message: SandboxMessage; previous: SandboxMessage } | undefined {
    const message = this.find(channel, ts);
    if (!message) return undefined;
    const previous = structuredClone(message);
    message.text = text;
    if (blocks !== undefined) message.blocks = blocks;
    message.edited = { user: by, ts: this.tick() };
    return { message: structuredClone(message), previous };
  }

  /** A parent with replies becomes a tombstone (it keeps its ts); anything else disappears. */
  delete(channel: string, ts: string): Deletion | undefined {
    const c = this.conversations.get(channel);
    const message = this.find(channel, ts);
    if (!c || !message) return undefined;
    const previous = structuredClone(message);
    const eventTs = this.tick();
    if ((message.reply_count ?? 0) > 0 && message.subtype !== 'tombstone') {
      delete message.user;
      delete message.bot_id;
      delete message.app_id;
      delete message.edited;
      delete message.blocks;
      delete message.metadata;
      message.subtype = 'tombstone';
      message.text = 'This message was deleted.';
      return { kind: 'tombstoned', message: structuredClone(message), previous, eventTs };
    }
    c.messages = c.messages.filter((m) => m.ts !== ts);
    for (const [parentTs, replies] of c.replies) {
      const left = replies.filter((m) => m.ts !== ts);
      if (left.length === replies.length) continue;
      c.replies.set(parentTs, left);
      const parent = c.messages.find((m) => m.ts === parentTs);
      if (parent) parent.reply_count = left.length;
    }
    return { kind: 'deleted', previous, eventTs };
  }

  /**
   * conversations.history: top-level messages newest first, `oldest` and
   * `latest` exclusive unless `inclusive`. `next` is the ts the next page
   * starts at, when more messages are in range.
   */
  history(channel: string, q: HistoryQuery): { messages: SandboxMessage[]; next?: string } {
    const c = this.conversation(channel);
    const after = (ts: string, bound: string | undefined): boolean => bound === undefined || (q.inclusive ? micros(ts) >= micros(bound) : micros(ts) > micros(bound));
    const before = (ts: string, bound: string | undefined): boolean => bound === undefined || (q.inclusive ? micros(ts) <= micros(bound) : micros(ts) < micros(bound));
    const inRange = c.messages
      .filter((m) => after(m.ts, q.oldest) && before(m.ts, q.latest) && (q.before === undefined || micros(m.ts) <= micros(q.before)))
      .sort((a, b) => micros(b.ts) - micros(a.ts));
    const page = inRange.slice(0, q.limit).map((m) => structuredClone(m));
    const next = inRange[q.limit]?.ts;
    return next === undefined ? { messages: page } : { messages: page, next };
  }

  /** A fresh ts for events that are not messages (deletions, edits) from the same clock. */
  tick(): string {
    this.clockSeconds += 1;
    this.sequence = (this.sequence + 1) % 1_000_000;
    return `${this.clockSeconds}.${String(this.sequence).padStart(6, '0')}`;
  }

  private find(channel: string, ts: string): SandboxMessage | undefined {
    const c = this.conversations.get(channel);
    return c?.messages.find((m) => m.ts === ts) ?? [...(c?.replies.values() ?? [])].flat().find((m) => m.ts === ts);
  }

  private conversation(id: string): Conversation {
    const c = this.conversations.get(id);
    if (!c) throw new Error(`sandbox: no conversation ${id}`);
    return c;
  }
}

export function micros(ts: string): number {
  const [s = '0', f = '0'] = ts.split('.');
  return Number(s) * 1_000_000 + Number(f.padEnd(6, '0').slice(0, 6));
}

/** A small seeded PRNG (public-domain mulberry32): same seed, same data. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
