/**
 * Route templates as the Functions host (ASP.NET routing) reads them:
 * `webhooks/{provider}/{integrationId}`, optional trailing parameters
 * `{x?}`, a few inline constraints `{id:int}`, and a catch-all `{*rest}`.
 * Literal segments match case-insensitively and route values are
 * percent-decoded, as ASP.NET does.
 *
 * Templates are compiled once at start-up into segment arrays; matching a
 * request is a split and a loop, with no regular expression per request.
 */

type Constraint = 'int' | 'long' | 'bool' | 'guid' | 'alpha';
const CONSTRAINTS: ReadonlySet<string> = new Set<Constraint>(['int', 'long', 'bool', 'guid', 'alpha']);

type Segment =
  | { kind: 'literal'; lower: string }
  | { kind: 'param'; name: string; optional: boolean; constraint: Constraint | undefined }
  | { kind: 'catchAll'; name: string };

export interface CompiledRoute<T> {
  readonly template: string;
  readonly segments: readonly Segment[];
  readonly target: T;
}

export class RouteTemplateError extends Error {
  constructor(template: string, reason: string) {
    super(`Invalid route template "${template}": ${reason}`);
    this.name = 'RouteTemplateError';
  }
}

const PARAM = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$/;

export function compileRoute<T>(template: string, target: T): CompiledRoute<T> {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const parts = trimmed === '' ? [] : trimmed.split('/');
  const segments: Segment[] = [];
  const names = new Set<string>();
  parts.forEach((part, i) => {
    if (!part.includes('{') && !part.includes('}')) {
      if (part === '') throw new RouteTemplateError(template, 'empty segment');
      segments.push({ kind: 'literal', lower: part.toLowerCase() });
      return;
    }
    const m = PARAM.exec(part);
    if (!m) throw new RouteTemplateError(template, `segment "${part}" must be a whole {parameter}`);
    const [, star, name = '', constraint, optional] = m;
    if (names.has(name.toLowerCase())) throw new RouteTemplateError(template, `parameter "${name}" appears twice`);
    names.add(name.toLowerCase());
    if (constraint !== undefined && !CONSTRAINTS.has(constraint)) {
      throw new RouteTemplateError(template, `constraint ":${constraint}" is not supported locally (use one of ${[...CONSTRAINTS].join(', ')})`);
    }
    if (star !== undefined) {
      if (i !== parts.length - 1) throw new RouteTemplateError(template, 'a catch-all parameter must be the last segment');
      segments.push({ kind: 'catchAll', name });
      return;
    }
    segments.push({ kind: 'param', name, optional: optional !== undefined, constraint: constraint as Constraint | undefined });
  });
  // Only trailing parameters may be optional, otherwise matching is ambiguous.
  let seenOptional = false;
  for (const seg of segments) {
    const isOptional = seg.kind === 'catchAll' || (seg.kind === 'param' && seg.optional);
    if (seenOptional && !isOptional) throw new RouteTemplateError(template, 'an optional parameter must not be followed by a required segment');
    if (isOptional) seenOptional = true;
  }
  return { template, segments, target };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT = /^-?\d+$/;
const ALPHA = /^[A-Za-z]+$/;

function satisfies(constraint: Constraint | undefined, value: string): boolean {
  switch (constraint) {
    case undefined:
      return true;
    case 'int': {
      if (!INT.test(value)) return false;
      const n = Number(value);
      return n >= -2147483648 && n <= 2147483647;
    }
    case 'long':
      return INT.test(value) && BigInt(value) >= -9223372036854775808n && BigInt(value) <= 9223372036854775807n;
    case 'bool':
      return value.toLowerCase() === 'true' || value.toLowerCase() === 'false';
    case 'guid':
      return GUID.test(value);
    case 'alpha':
      return ALPHA.test(value);
  }
}

/** Thrown by matching when a path segment has malformed percent-encoding. */
export class MalformedPathError extends Error {}

function decode(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new MalformedPathError(`malformed percent-encoding in "${segment}"`);
  }
}

/** Split a path (without query) into raw segments, ignoring one trailing slash. */
export function splitPath(path: string): string[] {
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  if (trimmed === '') return [];
  const parts = trimmed.split('/');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Match raw path segments against one route; returns decoded params or undefined. */
export function matchRoute(route: CompiledRoute<unknown>, parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  const segs = route.segments;
  let i = 0;
  for (; i < segs.length; i++) {
    const seg = segs[i];
    if (seg === undefined) return undefined;
    const part = parts[i];
    if (seg.kind === 'catchAll') {
      if (i < parts.length) params[seg.name] = parts.slice(i).map(decode).join('/');
      return params;
    }
    if (part === undefined) {
      // Path ran out: fine only if everything left is optional.
      return seg.kind === 'param' && seg.optional ? params : undefined;
    }
    if (seg.kind === 'literal') {
      if (part.toLowerCase() !== seg.lower && decode(part).toLowerCase() !== seg.lower) return undefined;
      continue;
    }
    const value = decode(part);
    if (value === '' || !satisfies(seg.constraint, value)) return undefined;
    params[seg.name] = value;
  }
  return i === parts.length ? params : undefined;
}

function rank(seg: Segment | undefined): number {
  // A route that has ended is the exact match for a path that has ended too.
  if (seg === undefined) return -1;
  if (seg.kind === 'literal') return 0;
  if (seg.kind === 'catchAll') return 4;
  if (seg.optional) return 3;
  return seg.constraint !== undefined ? 1 : 2;
}

/**
 * Order routes so the most specific wins, like ASP.NET's route precedence:
 * a literal beats a constrained parameter beats a parameter beats an
 * optional one beats a catch-all, compared segment by segment.
 */
export function byPrecedence(a: CompiledRoute<unknown>, b: CompiledRoute<unknown>): number {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = rank(a.segments[i]) - rank(b.segments[i]);
    if (d !== 0) return d;
  }
  return 0;
}
