import type { FunctionDefinition } from '../../functions/definitions';
import type { QueueReceiver } from '../../shared/messaging/port';
import type { Logger } from '../../shared/observability/logger';
import { describeError } from './context';
import { startHttpServer } from './http';
import type { HttpFunction, LocalHttpServer } from './http';
import { startQueuePumps } from './queues';
import type { QueueFunction, QueuePumps } from './queues';
import { startTimers } from './timers';
import type { TimerFunction, TimerRunner, TimerScheduler } from './timers';

export interface LocalHostOptions {
  definitions: readonly FunctionDefinition[];
  /** Feeds the queue triggers; required when any definition is a serviceBusQueue trigger. */
  // `| undefined` throughout: callers pass optional settings straight through.
  receiver?: QueueReceiver | undefined;
  logger: Logger;
  /** Port to listen on; 0 picks a free one. Default: $PORT, else 7071 like Core Tools. */
  port?: number | undefined;
  /** Interface to bind; default 127.0.0.1 (the admin API is anonymous locally). Use 0.0.0.0 in a container. */
  hostname?: string | undefined;
  http?: { routePrefix?: string | undefined; maxBodyBytes?: number | undefined } | undefined;
  /** The key `authLevel: 'function'` routes require, checked before anything else (see HttpServerOptions.functionKey). */
  functionKey?: string | undefined;
  queues?: { maxConcurrentCalls?: number | undefined; receiveWaitMs?: number | undefined; errorBackoffMs?: number | undefined } | undefined;
  timers?: { scheduler?: TimerScheduler | undefined; pastDueThresholdMs?: number | undefined } | undefined;
}

export interface LocalHost {
  /** Base URL without the route prefix, e.g. http://127.0.0.1:7071 */
  readonly url: string;
  readonly port: number;
  /** Stop timers, HTTP and queue pumps, waiting for in-flight invocations. Idempotent. */
  stop(): Promise<void>;
}

export const DEFAULT_PORT = 7071;

function resolvePort(port: number | undefined): number {
  if (port !== undefined) return port;
  const env = process.env.PORT;
  if (env === undefined || env === '') return DEFAULT_PORT;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`PORT must be an integer between 0 and 65535, got "${env}"`);
  return n;
}

/**
 * Run the function definitions in this process, the way Core Tools would:
 * HTTP under /api, timers on their schedules, queue triggers from `receiver`.
 * Everything is validated (routes, schedules, queue names) before anything
 * starts, so a bad definition fails start-up instead of half a host running.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const { logger, definitions } = options;
  const names = new Set<string>();
  const httpFns: HttpFunction[] = [];
  const timerFns: TimerFunction[] = [];
  const queueFns: QueueFunction[] = [];
  for (const d of definitions) {
    if (names.has(d.name)) throw new Error(`Two functions are named "${d.name}"; function names must be unique`);
    names.add(d.name);
    if (d.kind === 'http') httpFns.push(d);
    else if (d.kind === 'timer') timerFns.push(d);
    else queueFns.push(d);
  }
  const receiver = options.receiver;
  if (queueFns.length > 0 && !receiver) {
    throw new Error(`Queue triggers (${queueFns.map((f) => f.name).join(', ')}) need a QueueReceiver`);
  }

  // Listen first: a port already in use fails here, before timers or pumps run.
  const http: LocalHttpServer = await startHttpServer({
    functions: httpFns,
    logger,
    port: resolvePort(options.port),
    hostname: options.hostname,
    routePrefix: options.http?.routePrefix,
    maxBodyBytes: options.http?.maxBodyBytes,
    functionKey: options.functionKey,
  });
  let timers: TimerRunner | undefined;
  let pumps: QueuePumps | undefined;
  try {
    timers = startTimers({ functions: timerFns, logger, ...options.timers });
    pumps = receiver ? startQueuePumps({ functions: queueFns, receiver, logger, ...options.queues }) : undefined;
  } catch (err) {
    await Promise.all([http.stop(), timers?.stop()]);
    throw err;
  }

  const prefix = (options.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');
  const next = timers.nextOccurrences();
  for (const d of definitions) {
    if (d.kind === 'http') {
      const path = [prefix, d.route.replace(/^\/+/, '')].filter((s) => s !== '').join('/');
      logger.info(`${d.name}: [${d.methods.join(',')}] ${http.url}/${path}`, { functionName: d.name, trigger: 'httpTrigger', methods: d.methods, route: d.route });
    } else if (d.kind === 'timer') {
      logger.info(`${d.name}: timerTrigger (${d.schedule} UTC)`, { functionName: d.name, trigger: 'timerTrigger', schedule: d.schedule, next: next[d.name]?.toISOString() });
    } else {
      logger.info(`${d.name}: serviceBusTrigger (${d.queueName})`, { functionName: d.name, trigger: 'serviceBusTrigger', queue: d.queueName });
    }
  }
  logger.info(`local host listening on ${http.url}`, { port: http.port, functions: definitions.length });

  let stopping: Promise<void> | undefined;
  const runningTimers = timers;
  const runningPumps = pumps;
  return {
    url: http.url,
    port: http.port,
    stop: () => {
      stopping ??= (async () => {
        logger.info('local host stopping: draining in-flight invocations');
        await Promise.all([runningTimers.stop(), http.stop(), runningPumps?.stop()]);
        logger.info('local host stopped');
      })();
      return stopping;
    },
  };
}

/** The bits of `process` the signal handling needs, injectable for tests. */
export interface SignalTarget {
  once(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

export interface SignalOptions {
  logger?: Logger;
  exit?: (code: number) => void;
  target?: SignalTarget;
}

/** Exit codes follow the shell convention 128 + signal number. */
const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * SIGINT/SIGTERM: drain in-flight work, then exit 0 (1 if draining failed).
 * A second signal while draining exits at once with 128 + signal, for the
 * impatient Ctrl-C. Returns a function that removes the handlers.
 */
export function installSignalHandlers(host: Pick<LocalHost, 'stop'>, options: SignalOptions = {}): () => void {
  const target: SignalTarget = options.target ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const logger = options.logger;
  let draining = false;
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const listeners = new Map<NodeJS.Signals, () => void>();

  const install = (): void => {
    for (const signal of signals) {
      const listener = (): void => { onSignal(signal); };
      listeners.set(signal, listener);
      target.once(signal, listener);
    }
  };
  const uninstall = (): void => {
    for (const [signal, listener] of listeners) target.off(signal, listener);
    listeners.clear();
  };
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (draining) {
      logger?.warn(`${signal} again: exiting without waiting`);
      exit(SIGNAL_EXIT[signal]);
      return;
    }
    draining = true;
    // `once` listeners are spent: re-arm so the second signal reaches us
    // instead of Node's default (which would kill us with no log line).
    uninstall();
    install();
    logger?.info(`${signal} received: draining in-flight work (send it again to exit now)`);
    host.stop().then(
      () => { uninstall(); exit(0); },
      (err: unknown) => {
        logger?.error('drain failed', describeError(err));
        uninstall();
        exit(1);
      },
    );
  };
  install();
  return uninstall;
}
