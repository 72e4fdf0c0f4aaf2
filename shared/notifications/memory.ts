import type { Logger } from '../observability/logger';
import type { NotificationEvent, NotificationSink } from './port';

/** Keeps events in memory: the embedded profile's sink and the tests' window on what was sent. */
export class InMemoryNotificationSink implements NotificationSink {
  readonly events: NotificationEvent[] = [];

  notify(event: NotificationEvent): Promise<void> {
    this.events.push({ ...event });
    return Promise.resolve();
  }

  ofKind(kind: NotificationEvent['kind']): NotificationEvent[] {
    return this.events.filter((e) => e.kind === kind);
  }

  clear(): void {
    this.events.length = 0;
  }
}

/** Writes each event as a log line, so they reach Application Insights until a chat channel is wired. */
export class LogNotificationSink implements NotificationSink {
  constructor(private readonly logger: Logger) {}

  notify(event: NotificationEvent): Promise<void> {
    const { title, ...fields } = event;
    if (event.severity === 'info') this.logger.info(`notification: ${title}`, { ...fields });
    else this.logger.warn(`notification: ${title}`, { ...fields });
    return Promise.resolve();
  }
}

/** Every sink gets every event; one failing channel neither stops the others nor fails the caller. */
export function fanOut(sinks: readonly NotificationSink[], logger: Logger): NotificationSink {
  return {
    notify: async (event) => {
      const results = await Promise.allSettled(sinks.map((s) => s.notify(event)));
      for (const r of results) {
        if (r.status === 'rejected') logger.warn('notification channel failed', { kind: event.kind, error: r.reason });
      }
    },
  };
}

/** Notify without ever failing the caller: a refresh or an admin write must not fail because a channel is down. */
export async function notifySafely(sink: NotificationSink, event: NotificationEvent, logger: Logger): Promise<void> {
  try {
    await sink.notify(event);
  } catch (error) {
    logger.warn('notification failed', { kind: event.kind, error });
  }
}
