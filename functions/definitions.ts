import { app } from '@azure/functions';
import type { HttpHandler, HttpMethod, ServiceBusQueueHandler, TimerHandler } from '@azure/functions';

/**
 * The one place functions are declared. Each call registers with
 * `@azure/functions` (a no-op outside the Functions host) and records the
 * definition so the local host can run exactly the same handlers.
 */
export type FunctionDefinition =
  | { kind: 'http'; name: string; route: string; methods: HttpMethod[]; authLevel: 'anonymous' | 'function'; handler: HttpHandler }
  | { kind: 'timer'; name: string; schedule: string; handler: TimerHandler }
  | { kind: 'serviceBusQueue'; name: string; queueName: string; connection: string; handler: ServiceBusQueueHandler };

export const definitions: FunctionDefinition[] = [];

/** App setting prefix of the identity-based Service Bus connection. */
export const SERVICE_BUS_CONNECTION = 'ServiceBusConnection';

export function httpFunction(name: string, options: { route: string; methods: HttpMethod[]; authLevel: 'anonymous' | 'function'; handler: HttpHandler }): void {
  definitions.push({ kind: 'http', name, ...options });
  app.http(name, options);
}

export function timerFunction(name: string, options: { schedule: string; handler: TimerHandler }): void {
  definitions.push({ kind: 'timer', name, ...options });
  app.timer(name, { schedule: options.schedule, runOnStartup: false, handler: options.handler });
}

export function queueFunction(name: string, options: { queueName: string; handler: ServiceBusQueueHandler }): void {
  definitions.push({ kind: 'serviceBusQueue', name, connection: SERVICE_BUS_CONNECTION, ...options });
  app.serviceBusQueue(name, { queueName: options.queueName, connection: SERVICE_BUS_CONNECTION, handler: options.handler });
}
