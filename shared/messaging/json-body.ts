/**
 * Message bodies must be plain JSON: the Functions Service Bus trigger
 * JSON-parses string bodies, so anything JSON.stringify would silently change
 * (a Date becoming a string, NaN becoming null, a Map becoming {}) would reach
 * the handler as a different value than was sent. Reject it at send time, with
 * the path of the offending value, instead of corrupting it in flight.
 */
export class NonJsonBodyError extends TypeError {
  constructor(readonly path: string, what: string) {
    super(`Message body is not plain JSON: ${path} is ${what} (send JSON values only)`);
    this.name = 'NonJsonBodyError';
  }
}

/** Throws NonJsonBodyError unless `body` survives a JSON round trip unchanged. */
export function assertJsonBody(body: unknown): asserts body is Record<string, unknown> {
  if (!isPlainObject(body)) throw new NonJsonBodyError('body', describe(body));
  check(body, 'body', new Set());
}

/** Serialise a checked body: the stored form, so every delivery parses a fresh deep copy. */
export function serialiseBody(body: Record<string, unknown>): string {
  assertJsonBody(body);
  return JSON.stringify(body);
}

function check(value: unknown, path: string, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new NonJsonBodyError(path, String(value));
      return;
    case 'object':
      break;
    default:
      throw new NonJsonBodyError(path, describe(value));
  }
  if (value === null) return;
  if (ancestors.has(value)) throw new NonJsonBodyError(path, 'a circular reference');
  ancestors.add(value);
  if (Array.isArray(value)) {
    value.forEach((item: unknown, i) => {
      // JSON turns a hole or undefined in an array into null: a changed value.
      if (item === undefined) throw new NonJsonBodyError(`${path}[${i}]`, 'undefined');
      check(item, `${path}[${i}]`, ancestors);
    });
  } else if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      // An undefined property is simply omitted, which is what optional fields mean.
      if (item !== undefined) check(item, `${path}.${key}`, ancestors);
    }
  } else {
    throw new NonJsonBodyError(path, describe(value));
  }
  ancestors.delete(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' ? `a ${name}` : 'a non-plain object';
  }
  return `a ${typeof value}`;
}
