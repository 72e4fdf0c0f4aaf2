/**
 * What an accepted delivery says that a pull cannot: GitHub's issues API has
 * no deletion feed, so `issues` with action `deleted` is the only signal that
 * an issue is gone. https://docs.github.com/webhooks/webhook-events-and-payloads#issues
 */
import { z } from 'zod';
import { parseJson } from '../../http/json';
import type { NormalizedRecord, WebhookEvent } from '../types';
import { toRecord } from './pull';
import { githubIssueSchema } from './schemas';

const deletedIssueEvent = z.object({ action: z.literal('deleted'), issue: githubIssueSchema }).loose();

export function githubEventRecords(rawBody: Buffer, events: readonly WebhookEvent[]): NormalizedRecord[] {
  // Only the `issues` event: `issue_comment.deleted` carries the (undeleted) parent issue too.
  if (!events.some((e) => e.event === 'issues.deleted')) return [];
  let json: unknown;
  try {
    json = parseJson(rawBody);
  } catch {
    return [];
  }
  const event = deletedIssueEvent.safeParse(json);
  if (!event.success) return [];
  // A deletion is newer than anything synced before it: stamp it now rather than with the issue's last edit.
  return [{ ...toRecord(event.data.issue), deleted: true, updatedAt: new Date().toISOString() }];
}
