import { QUEUES } from '../messaging/names';
import { describeIssues, outboundJobSchema } from '../messaging/messages';
import type { Logger } from '../observability/logger';
import type { ProviderRegistry } from '../providers/types';
import type { Repositories } from '../storage/repositories';
import { parkMessage } from './deadletters';
import type { MessageInfo } from './deps';

export interface OutboundDeps {
  repos: Repositories;
  providers: ProviderRegistry;
  logger: Logger;
  now: () => Date;
}

export type OutboundOutcome = { kind: 'parked'; reason: string };

/**
 * The outbound worker as far as the foundation goes: validate, resolve the
 * integration, and park what cannot be pushed yet with a reason (provider push
 * arrives with the providers and sync-engine work). Nothing is dropped.
 */
export async function handleOutbound(deps: OutboundDeps, body: unknown, message: MessageInfo): Promise<OutboundOutcome> {
  const park = async (tenantId: string | undefined, reason: string, description: string): Promise<OutboundOutcome> => {
    await parkMessage(deps.repos, QUEUES.syncOutbound, message.messageId, body, tenantId, reason, description, deps.now());
    deps.logger.warn('outbound message parked', { messageId: message.messageId, reason });
    return { kind: 'parked', reason };
  };
  const parsed = outboundJobSchema.safeParse(body);
  if (!parsed.success) return park(undefined, 'InvalidMessage', describeIssues(parsed.error));
  const job = parsed.data;
  const integration = await deps.repos.getIntegration(job.tenantId, job.integrationId);
  if (!integration) return park(job.tenantId, 'IntegrationNotFound', `No integration ${job.integrationId}`);
  if (!deps.providers.get(integration.provider)) return park(job.tenantId, 'UnknownProvider', integration.provider);
  return park(job.tenantId, 'PushNotSupported', `Push for ${integration.provider} ${job.entityType} is not implemented yet`);
}
