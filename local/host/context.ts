import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { InvocationContext } from '@azure/functions';
import type { FunctionTrigger, LogHandler, LogLevel as AzureLogLevel, TriggerMetadata } from '@azure/functions';
import type { Logger } from '../../shared/observability/logger';

/**
 * Route `context.log/info/warn/error` to our Logger, the way the host turns
 * them into App Insights traces. Arguments are formatted like console.log
 * (which is what the worker does), then the Logger scrubs secrets.
 */
export function logHandlerFor(logger: Logger): LogHandler {
  return (level: AzureLogLevel, ...args: unknown[]) => {
    const message = format(...args);
    switch (level) {
      case 'trace':
      case 'debug':
        logger.debug(message);
        return;
      case 'information':
        logger.info(message);
        return;
      case 'warning':
        logger.warn(message);
        return;
      case 'error':
      case 'critical':
        logger.error(message);
        return;
      case 'none':
        return;
    }
  };
}

export interface InvocationInit {
  functionName: string;
  trigger: FunctionTrigger;
  logger: Logger;
  triggerMetadata?: TriggerMetadata;
}

export interface Invocation {
  context: InvocationContext;
  /** Logger already carrying functionName and invocationId. */
  logger: Logger;
}

/** A real InvocationContext (the package's test-mode constructor) with a fresh invocation id. */
export function createInvocation(init: InvocationInit): Invocation {
  const invocationId = randomUUID();
  const logger = init.logger.child({ functionName: init.functionName, invocationId });
  const context = new InvocationContext({
    invocationId,
    functionName: init.functionName,
    logHandler: logHandlerFor(logger),
    ...(init.triggerMetadata !== undefined ? { triggerMetadata: init.triggerMetadata } : {}),
    options: { trigger: init.trigger, extraInputs: [], extraOutputs: [] },
  });
  return { context, logger };
}

/** Run a handler that may be sync or async, turning a synchronous throw into a rejection. */
export async function invoke<T>(fn: () => T | Promise<T>): Promise<T> {
  return fn();
}

/** Error details for a log line, without dumping whole objects. */
export function describeError(err: unknown): { error: string; stack?: string } {
  if (err instanceof Error) return err.stack !== undefined ? { error: `${err.name}: ${err.message}`, stack: err.stack } : { error: `${err.name}: ${err.message}` };
  return { error: format(err) };
}
