import { app } from '@azure/functions';
import type { HttpHandler, HttpMethod, ServiceBusQueueHandler, TimerHandler } from '@azure/functions';
import { MAX_ADMIN_BODY_BYTES } from '../shared/api/http';

/**
 * The largest request body a function reads, in bytes: a number, or a function
 * resolved per request when a setting decides it (e.g. WEBHOOK_MAX_BODY_BYTES).
 * The local host stops reading there; under Azure the host buffers up to its
 * own cap first (see local/host/http.ts), so handlers still check what they read.
 */
export type BodyLimit = number | (() => number | Promise<number>);

export interface HttpFunctionOptions {
  route: string;
  methods: HttpMethod[];
  /** 'function': the host checks the key (x-functions-key or ?code=) before the function runs or its body is read. */
  authLevel: 'anonymous' | 'function';
  handler: HttpHandler;
  /** Default: MAX_ADMIN_BODY_BYTES, since every HTTP function here is a small-JSON API unless it says otherwise. */
  maxBodyBytes?: BodyLimit;
}

/**
 * The one place functions are declared. Each call registers with
 * `@azure/functions` (a no-op outside the Functions host) and records the
 * definition so the local host can run exactly the same handlers.
 */
export type FunctionDefinition =
  | { kind: 'http'; name: string; route: string; methods: HttpMethod[]; authLevel: 'anonymous' | 'function'; handler: HttpHandler; maxBodyBytes?: BodyLimit }
  | { kind: 'timer'; name: string; schedule: string; handler: TimerHandler }
  | { kind: 'serviceBusQueue'; name: string; queueName: string; connection: string; handler: ServiceBusQueueHandler };

export const definitions: FunctionDefinition[] = [];

/** App setting prefix of the identity-based Service Bus connection. */
export const SERVICE_BUS_CONNECTION = 'ServiceBusConnection';

export function httpFunction(name: string, options: HttpFunctionOptions): void {
  const { route, methods, authLevel, handler } = options;
  definitions.push({ kind: 'http', name, route, methods, authLevel, handler, maxBodyBytes: options.maxBodyBytes ?? MAX_ADMIN_BODY_BYTES });
  // Only what the library knows: the body limit is ours, enforced by the local host and the handlers.
  app.http(name, { route, methods, authLevel, handler });
}

export function timerFunction(name: string, options: { schedule: string; handler: TimerHandler }): void {
  definitions.push({ kind: 'timer', name, ...options });
  app.timer(name, { schedule: options.schedule, runOnStartup: false, handler: options.handler });
}

export function queueFunction(name: string, options: { queueName: string; handler: ServiceBusQueueHandler }): void {
  definitions.push({ kind: 'serviceBusQueue', name, connection: SERVICE_BUS_CONNECTION, ...options });
  app.serviceBusQueue(name, { queueName: options.queueName, connection: SERVICE_BUS_CONNECTION, handler: options.handler });
}
