import fc from 'fast-check';
import { NcrontabError, nextOccurrence, parseNcrontab } from '../../shared/sync/ncrontab';

const at = (iso: string): Date => new Date(iso);
const next = (expr: string, after: string): string => nextOccurrence(expr, at(after)).toISOString();

describe('nextOccurrence (known answers, UTC)', () => {
  it.each([
    // hourly, the SyncScheduler schedule
    ['0 0 * * * *', '2024-01-01T10:15:30.000Z', '2024-01-01T11:00:00.000Z'],
    // strictly after: an occurrence exactly at `after` is not returned
    ['0 0 * * * *', '2024-01-01T11:00:00.000Z', '2024-01-01T12:00:00.000Z'],
    ['0 0 * * * *', '2024-01-01T23:30:00.000Z', '2024-01-02T00:00:00.000Z'],
    // every five minutes, the TokenRefresher schedule
    ['0 */5 * * * *', '2024-01-01T10:02:00.000Z', '2024-01-01T10:05:00.000Z'],
    ['0 */5 * * * *', '2024-01-01T10:55:01.000Z', '2024-01-01T11:00:00.000Z'],
    // every second; sub-second `after` rounds up to the next whole second
    ['*/1 * * * * *', '2024-01-01T10:00:00.500Z', '2024-01-01T10:00:01.000Z'],
    ['* * * * * *', '2024-01-01T10:00:00.000Z', '2024-01-01T10:00:01.000Z'],
    // ranges with steps and lists
    ['0 0-30/10 * * * *', '2024-01-01T10:00:00.000Z', '2024-01-01T10:10:00.000Z'],
    ['0 0-30/10 * * * *', '2024-01-01T10:30:00.000Z', '2024-01-01T11:00:00.000Z'],
    ['5/15 * * * * *', '2024-01-01T10:00:21.000Z', '2024-01-01T10:00:35.000Z'],
    ['0 15,45 9 * * *', '2024-01-01T09:20:00.000Z', '2024-01-01T09:45:00.000Z'],
    // day of week: weekdays at 09:30 — from Friday afternoon to Monday
    ['0 30 9 * * 1-5', '2024-01-05T10:00:00.000Z', '2024-01-08T09:30:00.000Z'],
    ['0 0 0 * * sun', '2024-01-01T00:00:00.000Z', '2024-01-07T00:00:00.000Z'],
    ['0 0 0 * * Saturday', '2024-01-01T00:00:00.000Z', '2024-01-06T00:00:00.000Z'],
    // month boundaries
    ['0 0 0 1 * *', '2024-01-31T12:00:00.000Z', '2024-02-01T00:00:00.000Z'],
    ['0 0 0 31 * *', '2024-01-31T00:00:01.000Z', '2024-03-31T00:00:00.000Z'],
    ['0 0 0 29 2 *', '2024-03-01T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    ['0 0 0 1 1 *', '2024-06-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'],
    ['0 0 12 * JAN,jul *', '2024-02-01T00:00:00.000Z', '2024-07-01T12:00:00.000Z'],
    ['59 59 23 31 12 *', '2024-12-31T23:59:58.000Z', '2024-12-31T23:59:59.000Z'],
    // day-of-month AND day-of-week (NCrontab), not OR (Vixie cron): Friday the 13th
    ['0 0 0 13 * 5', '2024-01-01T00:00:00.000Z', '2024-09-13T00:00:00.000Z'],
  ])('%s after %s → %s', (expr, after, expected) => {
    expect(next(expr, after)).toBe(expected);
  });

  it('accepts a parsed schedule and is stable across calls', () => {
    const s = parseNcrontab('0 */5 * * * *');
    let t = at('2024-01-01T00:00:00.000Z');
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      t = nextOccurrence(s, t);
      seen.push(t.toISOString());
    }
    expect(seen).toEqual(['2024-01-01T00:05:00.000Z', '2024-01-01T00:10:00.000Z', '2024-01-01T00:15:00.000Z']);
  });

  it('ignores the local time zone (Flex has none)', () => {
    expect(next('0 0 0 * * *', '2024-03-31T00:30:00.000Z')).toBe('2024-04-01T00:00:00.000Z');
  });
});

describe('parseNcrontab errors', () => {
  it.each([
    ['0 0 * * *', /expected 6 fields/],
    ['0 0 * * * * *', /expected 6 fields/],
    ['', /expected 6 fields/],
    ['60 * * * * *', /second value 60 is outside 0-59/],
    ['* 60 * * * *', /minute value 60/],
    ['* * 24 * * *', /hour value 24/],
    ['* * * 0 * *', /day value 0/],
    ['* * * * 13 *', /month value 13/],
    ['* * * * * 7', /day-of-week value 7/],
    ['*/0 * * * * *', /step "0"/],
    ['*/x * * * * *', /step "x"/],
    ['a * * * * *', /"a" is not a valid second/],
    ['* * * * foo *', /"foo" is not a valid month/],
    ['5-1 * * * * *', /runs backwards/],
    ['1,,2 * * * * *', /empty list item/],
    ['1-2-3 * * * * *', /malformed range/],
    ['1/2/3 * * * * *', /too many "\/"/],
    ['0 0 0 30 2 *', /can never fire/],
  ])('%j is rejected (%s)', (expr, reason) => {
    expect(() => parseNcrontab(expr)).toThrow(NcrontabError);
    expect(() => parseNcrontab(expr)).toThrow(reason);
  });

  it('names the expression in the message', () => {
    expect(() => parseNcrontab('0 0 * * *')).toThrow('Invalid NCRONTAB expression "0 0 * * *"');
  });

  it('rejects an invalid date', () => {
    expect(() => nextOccurrence('* * * * * *', new Date('nope'))).toThrow(RangeError);
  });
});

describe('nextOccurrence matches a brute-force search', () => {
  const field = (max: number): fc.Arbitrary<string> =>
    fc.oneof(
      fc.constant('*'),
      fc.integer({ min: 0, max }).map(String),
      fc.integer({ min: 1, max: 20 }).map((s) => `*/${s}`),
      fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
      fc.uniqueArray(fc.integer({ min: 0, max }), { minLength: 1, maxLength: 4 }).map((xs) => xs.join(',')),
    );

  it('for random second/minute/hour fields', () => {
    fc.assert(
      fc.property(field(59), field(59), field(23), fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }), (s, m, h, start) => {
        const expr = `${s} ${m} ${h} * * *`;
        const sched = parseNcrontab(expr);
        const got = nextOccurrence(sched, new Date(start)).getTime();
        // Oracle: walk second by second (every such schedule fires within a day).
        let t = Math.floor(start / 1000) * 1000 + 1000;
        for (;;) {
          const d = new Date(t);
          if (sched.seconds[d.getUTCSeconds()] && sched.minutes[d.getUTCMinutes()] && sched.hours[d.getUTCHours()]) break;
          t += 1000;
        }
        expect(got).toBe(t);
      }),
      { numRuns: 60 },
    );
  });
});
