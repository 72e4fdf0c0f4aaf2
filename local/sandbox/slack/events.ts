/**
 * Signed Events API deliveries, as Slack sends them.
 * https://docs.slack.dev/apis/events-api/
 * https://docs.slack.dev/authentication/verifying-requests-from-slack
 *
 * Signs independently of shared/providers/slack/webhook.ts, so a test that
 * delivers here and verifies there checks one implementation against another.
 *
 * A delivery not answered 2xx within 3 seconds is retried up to three times
 * with `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`; Slack waits about
 * nothing, 1 minute and 5 minutes between them (configurable here). The
 * envelope, `event_id` included, is the same every time.
 */
import { createHmac } from 'node:crypto';

/** Slack expects an answer within 3 seconds before it counts a failure. */
export const ACK_TIMEOUT_MS = 3_000;
/** Immediately, after 1 minute, after 5 minutes (Events API "Failure conditions"). */
export const SLACK_RETRY_DELAYS_MS: readonly number[] = [0, 60_000, 300_000];
const USER_AGENT = 'Slackbot 1.0 (+https://api.slack.com/robots)';

export interface SlackDelivery {
  url: string;
  signingSecret: string;
  /** An object is sent as compact JSON; a string is sent byte for byte (recorded fixtures). */
  body: unknown;
  /** `X-Slack-Request-Timestamp` in epoch seconds; now when omitted. */
  timestamp?: number;
  retryNum?: number;
  retryReason?: string;
}

export interface SlackDeliveryResult {
  status: number;
  body: string;
  timestamp: number;
}

export async function deliverSlackEvent(delivery: SlackDelivery): Promise<SlackDeliveryResult> {
  const raw = Buffer.from(typeof delivery.body === 'string' ? delivery.body : JSON.stringify(delivery.body));
  const timestamp = delivery.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = `v0=${createHmac('sha256', delivery.signingSecret).update(Buffer.concat([Buffer.from(`v0:${timestamp}:`), raw])).digest('hex')}`;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signature,
  };
  if (delivery.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(delivery.retryNum);
    headers['x-slack-retry-reason'] = delivery.retryReason ?? 'http_error';
  }
  const response = await fetch(delivery.url, { method: 'POST', body: raw, headers, signal: AbortSignal.timeout(ACK_TIMEOUT_MS) });
  return { status: response.status, body: await response.text(), timestamp };
}

export interface Subscription {
  url: string;
  signingSecret: string;
  retryDelaysMs?: readonly number[];
}

export interface DeliveryAttempt {
  eventId: string;
  eventType: string;
  retryNum: number;
  status?: number;
  error?: string;
}

/**
 * Delivers envelopes one after another (Slack does not promise order; one
 * at a time keeps tests deterministic), retrying failures.
 */
export class EventDispatcher {
  private chain: Promise<void> = Promise.resolve();
  readonly attempts: DeliveryAttempt[] = [];
  subscription: Subscription | undefined;

  constructor(private readonly now: () => number) {}

  enqueue(envelope: { event_id: string; event: { type: string; subtype?: string } }): void {
    const subscription = this.subscription;
    if (!subscription) return;
    this.chain = this.chain.then(() => this.deliverWithRetries(subscription, envelope));
  }

  /** Resolves once every delivery queued so far (retries included) has finished. */
  settled(): Promise<void> {
    return this.chain;
  }

  private async deliverWithRetries(s: Subscription, envelope: { event_id: string; event: { type: string; subtype?: string } }): Promise<void> {
    const delays = s.retryDelaysMs ?? SLACK_RETRY_DELAYS_MS;
    const eventType = envelope.event.subtype ? `${envelope.event.type}.${envelope.event.subtype}` : envelope.event.type;
    let reason: string | undefined;
    for (let retryNum = 0; retryNum <= delays.length; retryNum++) {
      if (retryNum > 0) await new Promise((r) => setTimeout(r, delays[retryNum - 1] ?? 0));
      const attempt: DeliveryAttempt = { eventId: envelope.event_id, eventType, retryNum };
      this.attempts.push(attempt);
      try {
        const delivery: SlackDelivery = { url: s.url, signingSecret: s.signingSecret, body: envelope, timestamp: Math.floor(this.now() / 1000) };
        if (retryNum > 0) {
          delivery.retryNum = retryNum;
          delivery.retryReason = reason ?? 'http_error';
        }
        const result = await deliverSlackEvent(delivery);
        attempt.status = result.status;
        if (result.status >= 200 && result.status < 300) return;
        reason = 'http_error';
      } catch (e) {
        const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
        attempt.error = timedOut ? 'timeout' : 'connection_failed';
        reason = timedOut ? 'http_timeout' : 'connection_failed';
      }
    }
  }
}
