/**
 * The sandbox workspace: every change to a conversation goes through here so
 * that it also produces the Events API event Slack would send
 * (https://docs.slack.dev/reference/events/message and its subtypes
 * `message_changed`, `message_deleted`), wrapped in an `event_callback`
 * envelope (https://docs.slack.dev/apis/events-api/#callback-field).
 */
import type { EventDispatcher } from './events';
import type { NewMessage, SandboxMessage, SlackSandboxState } from './state';

export interface WorkspaceIdentity {
  teamId: string;
  teamName: string;
  appId: string;
  botUserId: string;
  botId: string;
  installerUserId: string;
  /** The deprecated verification token Slack still puts in every envelope. */
  verificationToken: string;
}

export interface EventEnvelope {
  token: string;
  team_id: string;
  api_app_id: string;
  event: Record<string, unknown> & { type: string; subtype?: string };
  type: 'event_callback';
  event_id: string;
  event_time: number;
  authorizations: Record<string, unknown>[];
  is_ext_shared_channel: boolean;
  event_context: string;
}

export class SlackWorkspace {
  private eventSeq = 0;

  constructor(
    readonly state: SlackSandboxState,
    readonly dispatcher: EventDispatcher,
    readonly identity: WorkspaceIdentity,
  ) {}

  post(channel: string, input: NewMessage): SandboxMessage {
    const message = this.state.post(channel, input);
    const event: Record<string, unknown> & { type: string } = { ...message, channel, event_ts: message.ts, channel_type: channelType(channel) };
    if (input.replyBroadcast === true) event.subtype = 'thread_broadcast';
    this.emit(event);
    return message;
  }

  edit(channel: string, ts: string, text: string, by: string, blocks?: Record<string, unknown>[]): SandboxMessage | undefined {
    const edited = this.state.edit(channel, ts, text, by, blocks);
    if (!edited) return undefined;
    const eventTs = edited.message.edited?.ts ?? ts;
    this.emit({
      type: 'message',
      subtype: 'message_changed',
      hidden: true,
      channel,
      channel_type: channelType(channel),
      ts: eventTs,
      event_ts: eventTs,
      message: edited.message,
      previous_message: edited.previous,
    });
    return edited.message;
  }

  /** Deletes a message; a thread parent with replies becomes a tombstone (a `message_changed`). */
  delete(channel: string, ts: string): boolean {
    const deletion = this.state.delete(channel, ts);
    if (!deletion) return false;
    const common = { type: 'message', hidden: true, channel, channel_type: channelType(channel), ts: deletion.eventTs, event_ts: deletion.eventTs };
    if (deletion.kind === 'tombstoned') {
      this.emit({ ...common, subtype: 'message_changed', message: deletion.message, previous_message: deletion.previous });
    } else {
      this.emit({ ...common, subtype: 'message_deleted', deleted_ts: ts, previous_message: deletion.previous });
    }
    return true;
  }

  /** Wraps an event as Slack does; the event id is deterministic (`Ev` + a counter). */
  envelope(event: Record<string, unknown> & { type: string }): EventEnvelope {
    this.eventSeq++;
    const eventTs = typeof event.event_ts === 'string' ? event.event_ts : this.state.tick();
    const { teamId, appId, botUserId, verificationToken } = this.identity;
    return {
      token: verificationToken,
      team_id: teamId,
      api_app_id: appId,
      event: { event_ts: eventTs, ...event },
      type: 'event_callback',
      event_id: `Ev${this.eventSeq.toString(36).toUpperCase().padStart(8, '0')}`,
      event_time: Math.floor(Number(eventTs)),
      authorizations: [{ enterprise_id: null, team_id: teamId, user_id: botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
      event_context: `4-${Buffer.from(`message-${teamId}`).toString('base64url')}`,
    };
  }

  private emit(event: Record<string, unknown> & { type: string }): void {
    if (this.dispatcher.subscription) this.dispatcher.enqueue(this.envelope(event));
  }
}

function channelType(channel: string): string {
  if (channel.startsWith('D')) return 'im';
  return channel.startsWith('G') ? 'group' : 'channel';
}
