import type { InvocationContext } from '@azure/functions';
import type { MessageInfo } from '../shared/sync/deps';

/**
 * Message facts from trigger metadata. The host JSON-parses string values, so
 * a numeric-looking message id arrives as a number: normalise back to text.
 */
export function messageInfo(context: InvocationContext): MessageInfo {
  const meta = context.triggerMetadata ?? {};
  const rawId = meta.messageId;
  const rawCount = meta.deliveryCount;
  return {
    messageId: typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : context.invocationId,
    deliveryCount: typeof rawCount === 'number' ? rawCount : Number(rawCount ?? 1) || 1,
  };
}
