import type { LogSink } from '../shared/observability/logger';

const COLORS = { debug: '\x1b[90m', info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m' } as const;

/** Human-readable log lines for the terminal (fields arrive already redacted by the logger). */
export function prettySink(color: boolean): LogSink {
  return (level, message, fields) => {
    const time = new Date().toISOString().slice(11, 23);
    const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
    const tag = color ? `${COLORS[level]}${level.padEnd(5)}\x1b[0m` : level.padEnd(5);
    const line = `${time} ${tag} ${message}${extra}\n`;
    if (level === 'error' || level === 'warn') process.stderr.write(line);
    else process.stdout.write(line);
  };
}
