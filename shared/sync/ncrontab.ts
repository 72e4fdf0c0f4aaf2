/**
 * Six-field NCRONTAB, the schedule format of the Azure Functions timer trigger:
 * `{second} {minute} {hour} {day} {month} {day-of-week}`.
 *
 * Semantics follow NCrontab (the library the host uses), not Vixie cron:
 * - day-of-month and day-of-week are ANDed: `0 0 0 13 * 5` fires only on a
 *   Friday the 13th (Vixie cron would fire on every 13th and every Friday);
 * - day-of-week is 0-6 with Sunday = 0 (7 is rejected, as Azure rejects it);
 * - everything is UTC, because Flex Consumption has no time-zone setting
 *   (WEBSITE_TIME_ZONE is not honoured there).
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions
 */

export class NcrontabError extends Error {
  constructor(
    readonly expression: string,
    reason: string,
  ) {
    super(`Invalid NCRONTAB expression "${expression}": ${reason}`);
    this.name = 'NcrontabError';
  }
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

const FIELDS: readonly FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 6, names: DAY_NAMES },
];

/** A parsed schedule: one lookup table per field, indexed by value. */
export interface CronSchedule {
  readonly expression: string;
  readonly seconds: readonly boolean[];
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  readonly days: readonly boolean[];
  readonly months: readonly boolean[];
  readonly daysOfWeek: readonly boolean[];
}

const DIGITS = /^\d+$/;

function parseValue(expr: string, spec: FieldSpec, token: string): number {
  if (DIGITS.test(token)) {
    const n = Number(token);
    if (n < spec.min || n > spec.max) throw new NcrontabError(expr, `${spec.name} value ${n} is outside ${spec.min}-${spec.max}`);
    return n;
  }
  if (spec.names) {
    const lower = token.toLowerCase();
    // NCrontab accepts the three-letter abbreviation or the full name.
    const index = spec.names.findIndex((n) => n === lower || (lower.length === 3 && n.startsWith(lower)));
    if (index >= 0) return index + spec.min;
  }
  throw new NcrontabError(expr, `"${token}" is not a valid ${spec.name}`);
}

function parseField(expr: string, spec: FieldSpec, text: string): boolean[] {
  const table = new Array<boolean>(spec.max + 1).fill(false);
  for (const part of text.split(',')) {
    if (part === '') throw new NcrontabError(expr, `empty list item in ${spec.name} field "${text}"`);
    const [rangeText = '', stepText, extra] = part.split('/');
    if (extra !== undefined) throw new NcrontabError(expr, `too many "/" in ${spec.name} field "${part}"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!DIGITS.test(stepText) || Number(stepText) === 0) throw new NcrontabError(expr, `step "${stepText}" in ${spec.name} field must be a positive integer`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (rangeText === '*') {
      from = spec.min;
      to = spec.max;
    } else {
      const [a = '', b, more] = rangeText.split('-');
      if (more !== undefined) throw new NcrontabError(expr, `malformed range "${rangeText}" in ${spec.name} field`);
      from = parseValue(expr, spec, a);
      // `5/15` means "from 5 to the end, every 15" (NCrontab and Quartz agree).
      to = b !== undefined ? parseValue(expr, spec, b) : stepText !== undefined ? spec.max : from;
      if (to < from) throw new NcrontabError(expr, `range ${from}-${to} in ${spec.name} field runs backwards`);
    }
    for (let v = from; v <= to; v += step) table[v] = true;
  }
  return table;
}

/** Parse and validate; throws NcrontabError with the reason. */
export function parseNcrontab(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) {
    throw new NcrontabError(expression, `expected 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}), got ${parts.length}`);
  }
  const tables = FIELDS.map((spec, i) => parseField(expression, spec, parts[i] ?? ''));
  const [seconds = [], minutes = [], hours = [], days = [], months = [], daysOfWeek = []] = tables;
  const schedule: CronSchedule = { expression, seconds, minutes, hours, days, months, daysOfWeek };
  // `0 0 0 30 2 *` parses but never fires: say so now rather than at the first tick.
  nextOccurrence(schedule, new Date(Date.UTC(2000, 0, 1)));
  return schedule;
}

/**
 * Leap-day schedules constrained by weekday can wait 28 years; nothing valid
 * waits longer, so searching further means the schedule can never fire.
 */
const SEARCH_YEARS = 30;

/** The first occurrence strictly after `after`, in UTC, at whole-second precision. */
export function nextOccurrence(expr: string | CronSchedule, after: Date): Date {
  const s = typeof expr === 'string' ? parseNcrontab(expr) : expr;
  const start = after.getTime();
  if (Number.isNaN(start)) throw new RangeError('nextOccurrence: invalid "after" date');
  // Next whole second strictly after `after`.
  let t = Math.floor(start / 1000) * 1000 + 1000;
  const lastYear = new Date(t).getUTCFullYear() + SEARCH_YEARS;
  // Each miss jumps to the start of the next candidate unit, so this runs at
  // most a few hundred iterations even for sparse schedules.
  for (;;) {
    const d = new Date(t);
    const year = d.getUTCFullYear();
    if (year > lastYear) throw new NcrontabError(s.expression, `no occurrence within ${SEARCH_YEARS} years (the schedule can never fire)`);
    const month = d.getUTCMonth();
    const day = d.getUTCDate();
    const hour = d.getUTCHours();
    const minute = d.getUTCMinutes();
    if (s.months[month + 1] !== true) {
      t = Date.UTC(year, month + 1, 1);
    } else if (s.days[day] !== true || s.daysOfWeek[d.getUTCDay()] !== true) {
      t = Date.UTC(year, month, day + 1);
    } else if (s.hours[hour] !== true) {
      t = Date.UTC(year, month, day, hour + 1);
    } else if (s.minutes[minute] !== true) {
      t = Date.UTC(year, month, day, hour, minute + 1);
    } else {
      const second = d.getUTCSeconds();
      let next = second;
      while (next < 60 && s.seconds[next] !== true) next++;
      if (next === second) return d;
      // No matching second left in this minute: move to the next minute.
      t = next < 60 ? t + (next - second) * 1000 : Date.UTC(year, month, day, hour, minute + 1);
    }
  }
}
