import { z } from 'zod';
import type { FieldMapping, MappingSpec } from '../domain/types';

const PATH = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+){0,15}$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const ENTITY = /^[A-Za-z0-9_.-]{1,64}$/;

export const fieldMappingSchema = z.strictObject({
  from: z.string().regex(PATH, 'must be a dot path like user.login or labels.0'),
  type: z.enum(['string', 'number', 'boolean', 'datetime', 'array', 'object']).optional(),
  required: z.boolean().optional(),
});

/** Validated when an integration is saved: a bad mapping is a 400, never a failed run. */
export const mappingSpecSchema = z
  .record(
    z.string().regex(ENTITY, 'entity types are 1-64 of A-Z a-z 0-9 _ . -'),
    z.record(z.string().regex(NAME, 'canonical field names are identifiers'), fieldMappingSchema).refine((m) => Object.keys(m).length > 0, 'map at least one field'),
  )
  .refine((spec) => Object.keys(spec).length <= 50, 'at most 50 entity types');

function readPath(data: unknown, path: string): unknown {
  let current = data;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Array.isArray(current) ? current[Number(key)] : (current as Record<string, unknown>)[key];
  }
  return current;
}

function typeError(value: unknown, type: NonNullable<FieldMapping['type']>): string | undefined {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? undefined : 'is not a string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'is not a number';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'is not a boolean';
    case 'datetime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? undefined : 'is not a date-time';
    case 'array':
      return Array.isArray(value) ? undefined : 'is not an array';
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? undefined : 'is not an object';
  }
}

export type TransformResult = { ok: true; data: Record<string, unknown> } | { ok: false; reason: string };

/**
 * Transform (provider shape → canonical fields) and validate (types,
 * required) in one pass over the mapping; the caller records the two phases.
 * Entity types without a mapping keep the provider data as it is.
 */
export function transformRecord(spec: MappingSpec | undefined, entityType: string, data: Record<string, unknown>): TransformResult {
  const fields = spec?.[entityType];
  if (!fields) return { ok: true, data };
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, mapping] of Object.entries(fields)) {
    const value = readPath(data, mapping.from);
    if (value === undefined || value === null) {
      if (mapping.required === true) problems.push(`${name} (from ${mapping.from}) is required`);
      else out[name] = null;
      continue;
    }
    const wrong = mapping.type === undefined ? undefined : typeError(value, mapping.type);
    if (wrong !== undefined) problems.push(`${name} (from ${mapping.from}) ${wrong}`);
    else out[name] = value;
  }
  return problems.length ? { ok: false, reason: problems.join('; ') } : { ok: true, data: out };
}
