import { z } from 'zod';
import { ID_PATTERN } from '../domain/types';
import { InputError } from '../errors';

export const idSchema = z.string().regex(ID_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ - starting with a letter or digit');

/** Route ids are validated before any I/O: a bad id is a 400, never a store error. */
export function routeId(params: Record<string, string>, name: string): string {
  const value = params[name];
  const parsed = idSchema.safeParse(value);
  if (!parsed.success) throw new InputError(400, `${name}: must be 1-64 of A-Z a-z 0-9 _ - starting with a letter or digit`);
  return parsed.data;
}

const limitSchema = z.coerce.number().int().min(1).max(1000);

export function pageParams(query: URLSearchParams, defaultLimit = 50): { limit: number; continuation?: string } {
  const limit = limitSchema.safeParse(query.get('limit') ?? defaultLimit);
  if (!limit.success) throw new InputError(400, 'limit: must be an integer from 1 to 1000');
  const continuation = query.get('continuation');
  return { limit: limit.data, ...(continuation ? { continuation } : {}) };
}
