/**
 * Which schedules an integration may have. SyncScheduler ticks every
 * SCHEDULER_TICK_MINUTES, so a schedule finer than that could not run when
 * it says: it is refused with a reason that names the minimum, rather than
 * accepted and quietly run at the tick's pace.
 */
import { z } from 'zod';
import { InputError } from '../errors';
import { parseNcrontab, type CronSchedule } from './ncrontab';
import { SCHEDULER_TICK_MINUTES } from './schedule';

/** Longest interval: a week (the default is hourly; see SYNC_DEFAULT_SCHEDULE_MINUTES). */
export const MAX_SCHEDULE_MINUTES = 7 * 24 * 60;

const TICK_REASON = `the scheduler runs every ${SCHEDULER_TICK_MINUTES} minutes, so a finer schedule could not run on time`;

export const scheduleSchema = z.union([
  z.strictObject({
    everyMinutes: z
      .number()
      .int()
      .min(SCHEDULER_TICK_MINUTES, `must be at least ${SCHEDULER_TICK_MINUTES} (${TICK_REASON})`)
      .max(MAX_SCHEDULE_MINUTES, `must be at most ${MAX_SCHEDULE_MINUTES} (a week)`),
  }),
  z.strictObject({ cron: z.string().min(11).max(100) }),
]);
export type ScheduleInput = z.infer<typeof scheduleSchema>;

/** A cron schedule must parse and keep its occurrences at least one tick apart; 400 with the reason otherwise. */
export function checkCronSchedule(expression: string): void {
  let schedule: CronSchedule;
  try {
    schedule = parseNcrontab(expression);
  } catch (error) {
    throw new InputError(400, `schedule.cron: ${error instanceof Error ? error.message : 'invalid'}`);
  }
  const gap = minimumGapSeconds(schedule);
  if (gap < SCHEDULER_TICK_MINUTES * 60) {
    throw new InputError(400, `schedule.cron: occurrences can be ${describeSeconds(gap)} apart; the minimum is ${SCHEDULER_TICK_MINUTES} minutes (${TICK_REASON})`);
  }
}

const DAY_SECONDS = 86_400;

function selected(table: readonly boolean[]): number[] {
  return table.flatMap((on, value) => (on ? [value] : []));
}

/**
 * The shortest time between two consecutive occurrences. Within a day the
 * occurrences are the same times of day (hours × minutes × seconds); across
 * midnight the gap is shortest between two consecutive matching days, which
 * exist unless the day, month and weekday fields forbid them (checked over
 * the 28-year calendar cycle). With no two matching days in a row the gap
 * across midnight is over a day, which no tick comes near.
 */
export function minimumGapSeconds(schedule: CronSchedule): number {
  const seconds = selected(schedule.seconds);
  const minutes = selected(schedule.minutes);
  const hours = selected(schedule.hours);
  const times: number[] = [];
  for (const h of hours) for (const m of minutes) for (const s of seconds) times.push(h * 3600 + m * 60 + s);
  let gap = Infinity;
  for (let i = 1; i < times.length; i++) gap = Math.min(gap, (times[i] ?? 0) - (times[i - 1] ?? 0));
  const first = times[0];
  const last = times.at(-1);
  if (first === undefined || last === undefined) return gap;
  const acrossMidnight = DAY_SECONDS - last + first;
  if (acrossMidnight < gap && hasConsecutiveDays(schedule)) gap = acrossMidnight;
  return Math.min(gap, DAY_SECONDS);
}

function dayMatches(schedule: CronSchedule, day: Date): boolean {
  return schedule.months[day.getUTCMonth() + 1] === true && schedule.days[day.getUTCDate()] === true && schedule.daysOfWeek[day.getUTCDay()] === true;
}

function hasConsecutiveDays(schedule: CronSchedule): boolean {
  // Weekdays and leap days repeat every 28 years between 1901 and 2099.
  const start = Date.UTC(2001, 0, 1);
  const days = 28 * 366;
  let previous = false;
  for (let d = 0; d <= days; d++) {
    const matches = dayMatches(schedule, new Date(start + d * DAY_SECONDS * 1000));
    if (matches && previous) return true;
    previous = matches;
  }
  return false;
}

function describeSeconds(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} minute${seconds === 60 ? '' : 's'}` : `${seconds} second${seconds === 1 ? '' : 's'}`;
}
