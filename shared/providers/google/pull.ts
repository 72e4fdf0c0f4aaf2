/**
 * One pull run over the enabled resources, Drive first, then Calendar: one
 * PullPage per provider page, `done` on the last page of the last resource.
 * The cursor (see cursor.ts) lets a run resume after any page and carries
 * each resource's token for the next incremental run.
 */
import type { NormalizedRecord, PullContext, PullPage } from '../types';
import { apiContextFrom, GoogleApi } from './api';
import { enabledResources, parseGoogleCursor, toCursor, type GoogleCursor, type GoogleResource } from './cursor';
import { pullCalendar } from './pull-calendar';
import { pullDrive } from './pull-drive';
import type { GoogleRuntime } from './runtime';
import type { GoogleConfig, GoogleCredentials } from './schemas';

export async function* pullGoogle(ctx: PullContext<GoogleConfig, GoogleCredentials>, rt: GoogleRuntime): AsyncGenerator<PullPage> {
  const api = new GoogleApi(apiContextFrom(ctx), rt);
  const resources = enabledResources(ctx.config);
  let state: GoogleCursor = parseGoogleCursor(ctx.cursor, ctx.config);
  const first = state.active === undefined ? 0 : Math.max(0, resources.indexOf(state.active));

  for (let i = first; i < resources.length; i++) {
    const resource = resources[i];
    const next = resources[i + 1];
    if (resource === 'drive') {
      for await (const page of pullDrive(api, ctx.config.drive?.driveId, state.drive)) {
        state = { ...state, drive: page.cursor };
        yield emit(state, page.records, page.final, resource, next);
      }
    } else if (resource === 'calendar' && ctx.config.calendar) {
      for await (const page of pullCalendar(api, ctx.config.calendar.calendarId, state.calendar)) {
        state = { ...state, calendar: page.cursor };
        yield emit(state, page.records, page.final, resource, next);
      }
    }
  }
}

/** Mid-run the cursor names the resource to resume on; after the last page it names none. */
function emit(state: GoogleCursor, records: NormalizedRecord[], final: boolean, resource: GoogleResource, next: GoogleResource | undefined): PullPage {
  const { active: _active, ...rest } = state;
  const done = final && next === undefined;
  const cursor: GoogleCursor = done ? rest : { ...rest, active: final && next !== undefined ? next : resource };
  return { records, cursor: toCursor(cursor), done };
}
