/**
 * Watch channels (`changes.watch`, `events.watch`): the sandbox notifies a
 * channel's address on every change to the watched resource, `sync` first,
 * numbering each channel's messages from 1, until the channel expires or is
 * stopped. https://developers.google.com/drive/api/guides/push
 * Unlike Google, plain-http addresses are allowed (local receivers).
 */
import { isObject } from './http';
import { sendChannelNotification, type DeliveryResult } from './webhooks';

/** Default and ceiling of a channel's lifetime (Drive `changes`: one hour by default, at most a week). */
const DEFAULT_TTL_MS = 3600 * 1000;
const MAX_TTL_MS = 7 * 24 * 3600 * 1000;

export interface WatchChannel {
  id: string;
  token?: string;
  address: string;
  resourceId: string;
  resourceUri: string;
  expiration: number;
  kind: 'drive' | 'calendar';
  calendarId?: string;
  messageNumber: number;
  stopped: boolean;
}

export type OpenResult = { ok: true; channel: WatchChannel } | { ok: false; message: string };

export class Channels {
  private readonly channels = new Map<string, WatchChannel>();
  private readonly pending = new Set<Promise<void>>();
  /** Every notification sent, in order, with the receiver's answer (status 0: unreachable). */
  readonly sent: (DeliveryResult & { channelId: string; state: string })[] = [];

  constructor(private readonly now: () => number) {}

  open(body: unknown, target: { kind: 'drive' | 'calendar'; resourceUri: string; calendarId?: string }): OpenResult {
    if (!isObject(body)) return { ok: false, message: 'Invalid channel' };
    const { id, type, address, token, expiration } = body;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_+/=.:-]{1,64}$/.test(id)) return { ok: false, message: 'Invalid channel id' };
    if (type !== 'web_hook' && type !== 'webhook') return { ok: false, message: 'Invalid channel type' };
    if (typeof address !== 'string' || !/^https?:\/\//.test(address)) return { ok: false, message: 'Invalid address' };
    if (token !== undefined && (typeof token !== 'string' || token.length > 256)) return { ok: false, message: 'Invalid token' };
    if (this.channels.has(id)) return { ok: false, message: `Channel id ${id} not unique` };
    const requested = typeof expiration === 'string' || typeof expiration === 'number' ? Number(expiration) : NaN;
    const now = this.now();
    const channel: WatchChannel = {
      id,
      address,
      resourceId: Buffer.from(`${target.kind}:${target.calendarId ?? 'changes'}`).toString('base64url'),
      resourceUri: target.resourceUri,
      expiration: Number.isFinite(requested) ? Math.min(requested, now + MAX_TTL_MS) : now + DEFAULT_TTL_MS,
      kind: target.kind,
      messageNumber: 0,
      stopped: false,
    };
    if (typeof token === 'string') channel.token = token;
    if (target.calendarId !== undefined) channel.calendarId = target.calendarId;
    this.channels.set(id, channel);
    this.send(channel, 'sync');
    return { ok: true, channel };
  }

  stop(id: string, resourceId: string): boolean {
    const channel = this.channels.get(id);
    if (!channel || channel.resourceId !== resourceId) return false;
    channel.stopped = true;
    return true;
  }

  notify(kind: 'drive' | 'calendar', calendarId?: string): void {
    for (const channel of this.channels.values()) {
      if (channel.kind === kind && (kind === 'drive' || channel.calendarId === calendarId)) this.send(channel, kind === 'drive' ? 'change' : 'exists');
    }
  }

  /** Wait for every notification sent so far to be answered. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private send(channel: WatchChannel, state: string): void {
    if (channel.stopped || channel.expiration <= this.now()) return;
    const n = {
      url: channel.address,
      channelId: channel.id,
      resourceState: state,
      messageNumber: ++channel.messageNumber,
      resourceId: channel.resourceId,
      resourceUri: channel.resourceUri,
      expiration: channel.expiration,
      ...(channel.token === undefined ? {} : { token: channel.token }),
    };
    const p: Promise<void> = sendChannelNotification(n)
      .then((r) => {
        this.sent.push({ ...r, channelId: channel.id, state });
      })
      .catch(() => {
        this.sent.push({ status: 0, body: '', deliveryId: `${n.channelId}:${n.messageNumber}`, channelId: channel.id, state });
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }
}
