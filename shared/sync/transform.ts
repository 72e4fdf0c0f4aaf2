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

export type InverseResult = { ok: true; data: Record<string, unknown> } | { ok: false; field: string; reason: string };

/** A numeric path segment is an array element: writing it back would mean rewriting the whole array. */
const INDEX = /^\d+$/;

/** Why a canonical field cannot be written back to where its mapping reads it, or undefined when it can. */
export function notInvertible(mapping: FieldMapping): string | undefined {
  const index = mapping.from.split('.').find((segment) => INDEX.test(segment));
  return index === undefined ? undefined : `it is read from ${mapping.from}, an array element`;
}

/**
 * The inverse of the mapping, for writes: a patch of canonical fields → the
 * same values at the provider paths they are read from (`heading` ← `title`
 * gives `{title}`; ← `properties.Name` gives `{properties: {Name}}`). A field
 * the mapping does not declare, or declares from an array element, cannot be
 * written back: the result names it. Entity types without a mapping are
 * already in the provider's shape.
 */
export function invertPatch(spec: MappingSpec | undefined, entityType: string, patch: Record<string, unknown>): InverseResult {
  const fields = spec?.[entityType];
  if (!fields) return { ok: true, data: patch };
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(patch)) {
    const mapping = Object.hasOwn(fields, name) ? fields[name] : undefined;
    if (!mapping) return { ok: false, field: name, reason: `${name} is not a mapped field of ${entityType}` };
    const why = notInvertible(mapping);
    if (why !== undefined) return { ok: false, field: name, reason: `${name} cannot be written back: ${why}` };
    if (!setPath(out, mapping.from, value)) return { ok: false, field: name, reason: `${name} cannot be written back: ${mapping.from} overlaps another mapped field` };
  }
  return { ok: true, data: out };
}

/** Canonical data → the provider's shape, keeping only what can be written back (what we know of the provider's version). */
export function invertData(spec: MappingSpec | undefined, entityType: string, data: Record<string, unknown>): Record<string, unknown> {
  const fields = spec?.[entityType];
  if (!fields) return data;
  const out: Record<string, unknown> = {};
  for (const [name, mapping] of Object.entries(fields)) {
    if (!Object.hasOwn(data, name) || notInvertible(mapping) !== undefined) continue;
    setPath(out, mapping.from, data[name]);
  }
  return out;
}

/** Sets `path` in `target`, creating plain objects on the way; false when a segment is already taken by a non-object. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): boolean {
  const keys = path.split('.');
  // Mapping paths are admin data: never walk into an object's prototype.
  if (keys.some((k) => k === '__proto__' || k === 'constructor' || k === 'prototype')) return false;
  let current = target;
  for (const key of keys.slice(0, -1)) {
    const next = Object.hasOwn(current, key) ? current[key] : undefined;
    if (next === undefined) {
      const created: Record<string, unknown> = {};
      current[key] = created;
      current = created;
    } else if (next !== null && typeof next === 'object' && !Array.isArray(next)) {
      current = next as Record<string, unknown>;
    } else {
      return false;
    }
  }
  const last = keys[keys.length - 1] ?? path;
  if (Object.hasOwn(current, last)) return false;
  current[last] = value;
  return true;
}
