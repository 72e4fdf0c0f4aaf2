import { SYNC_SCHEDULE } from '../../functions/SyncScheduler';
import { loadSettings } from '../../shared/config/settings';
import { parseNcrontab } from '../../shared/sync/ncrontab';
import { SCHEDULER_TICK_CRON, SCHEDULER_TICK_MINUTES } from '../../shared/sync/schedule';
import { checkCronSchedule, minimumGapSeconds } from '../../shared/sync/schedule-rules';

test('the SyncScheduler timer ticks every SCHEDULER_TICK_MINUTES, which is what schedules are held to', () => {
  expect(SYNC_SCHEDULE).toBe(SCHEDULER_TICK_CRON);
  expect(SYNC_SCHEDULE).toBe('0 */5 * * * *');
  expect(minimumGapSeconds(parseNcrontab(SYNC_SCHEDULE))).toBe(SCHEDULER_TICK_MINUTES * 60);
  // Evenly: no two ticks further apart than the tick either (60 is a multiple of 5).
  expect(60 % SCHEDULER_TICK_MINUTES).toBe(0);
});

test.each([
  ['0 */5 * * * *', 300],
  ['0 0 * * * *', 3600],
  ['0 * * * * *', 60],
  ['*/10 * * * * *', 10],
  ['0,30 0 0 * * *', 30],
  ['0 58,1 * * * *', 180],
  // 23:58, then 00:00 the next day
  ['0 0,58 0,23 * * *', 120],
  // Mondays only: 23:58 Monday is followed by 00:00 the next Monday
  ['0 0,58 0,23 * * 1', 3480],
  // the last day of a month and the first of the next are consecutive days
  ['0 0,58 0,23 1,31 * *', 120],
  ['0 0 12 * * *', 86_400],
  ['0 0 0 13 * 5', 86_400],
])('the shortest gap between occurrences of %s is %i s', (cron, seconds) => {
  expect(minimumGapSeconds(parseNcrontab(cron))).toBe(seconds);
});

test('a cron refused for its gap names the minimum; an unparseable one says why', () => {
  expect(() => { checkCronSchedule('0 */4 * * * *'); }).toThrow('schedule.cron: occurrences can be 4 minutes apart; the minimum is 5 minutes');
  expect(() => { checkCronSchedule('0 0 * * *'); }).toThrow(/schedule\.cron: Invalid NCRONTAB expression "0 0 \* \* \*": expected 6 fields/);
  expect(() => { checkCronSchedule('0 */5 * * * *'); }).not.toThrow();
});

test('the default schedule setting is held to the same minimum', () => {
  expect(() => loadSettings({ SYNC_DEFAULT_SCHEDULE_MINUTES: String(SCHEDULER_TICK_MINUTES - 1) })).toThrow(/SYNC_DEFAULT_SCHEDULE_MINUTES/);
  expect(loadSettings({ SYNC_DEFAULT_SCHEDULE_MINUTES: String(SCHEDULER_TICK_MINUTES) }).SYNC_DEFAULT_SCHEDULE_MINUTES).toBe(SCHEDULER_TICK_MINUTES);
});
