/**
 * Structured logging with redaction at the logger: any field whose name looks
 * like a secret is replaced, and any registered secret value is scrubbed from
 * strings, so a token can never reach a log line by accident.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogSink = (level: LogLevel, message: string, fields: LogFields) => void;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /(secret|token|password|authorization|signature|api[-_]?key|credential|cookie|x-functions-key)/i;
export const REDACTED = '[redacted]';

/** Values registered here are scrubbed from every string the logger emits. */
const knownSecrets = new Set<string>();

export function registerSecretValue(value: string): void {
  if (value.length >= 6) knownSecrets.add(value);
}

export function scrub(text: string): string {
  let out = text;
  for (const s of knownSecrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[depth]';
  if (typeof value === 'string') return scrub(value);
  if (value instanceof Error) return scrub(`${value.name}: ${value.message}`);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v, depth + 1);
    return out;
  }
  return value;
}

export function createLogger(sink: LogSink, minLevel: LogLevel = 'info', base: LogFields = {}): Logger {
  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (LEVELS[level] < LEVELS[minLevel]) return;
    sink(level, scrub(message), redact({ ...base, ...fields }) as LogFields);
  };
  return {
    debug: (m, f) => { emit('debug', m, f); },
    info: (m, f) => { emit('info', m, f); },
    warn: (m, f) => { emit('warn', m, f); },
    error: (m, f) => { emit('error', m, f); },
    child: (fields) => createLogger(sink, minLevel, { ...base, ...fields }),
  };
}

/** One JSON line per entry on stdout/stderr. */
export const consoleSink: LogSink = (level, message, fields) => {
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg: message, ...fields });
  if (level === 'error' || level === 'warn') process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
};

export const silentLogger: Logger = createLogger(() => undefined, 'error');
