/**
 * Reads infra/main.json, the ARM template the real Bicep compiler writes (`npm run infra:build`; .ci/run
 * fails when it is stale), so tests check what Azure will deploy without a compiler or a Bicep parser.
 *
 * Modules are nested deployments (`Microsoft.Resources/deployments` with `properties.template`); their
 * resources are flattened here, each with its template (for variables and parameter defaults) and the
 * deployment that passes its parameters. Values the compiler could not fold stay ARM expressions
 * ("[parameters('x')]", "[format(…)]"). This is not an ARM evaluator: `resolve` follows only a value that is
 * exactly one `variables('x')` / `parameters('x')` reference (and `variables('xs')[copyIndex()]` inside a
 * copy loop); anything else is returned as the expression string, for the test to match as text.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const resourceSchema = z
  .object({
    type: z.string(),
    name: z.string(),
    properties: z.unknown().optional(),
    tags: z.unknown().optional(),
    identity: z.unknown().optional(),
    copy: z.object({ name: z.string(), count: z.union([z.string(), z.number()]) }).optional(),
  })
  .loose();

interface TemplateShape {
  parameters: Record<string, { type: string; defaultValue?: unknown }>;
  variables: Record<string, unknown>;
  resources: z.infer<typeof resourceSchema>[];
  outputs: Record<string, { type: string; value: unknown }>;
}

// Resources as an array: the compiler's classic output. Symbolic-name templates (languageVersion 2.0, an
// object of resources) would fail here loudly rather than be misread.
const templateSchema: z.ZodType<TemplateShape> = z
  .object({
    parameters: z.record(z.string(), z.object({ type: z.string(), defaultValue: z.unknown().optional() }).loose()).default({}),
    variables: z.record(z.string(), z.unknown()).default({}),
    resources: z.array(resourceSchema),
    outputs: z.record(z.string(), z.object({ type: z.string(), value: z.unknown() }).loose()).default({}),
  })
  .loose();

const deploymentSchema = z.object({
  properties: z.object({
    parameters: z.record(z.string(), z.object({ value: z.unknown() }).loose()).default({}),
    template: z.unknown(),
  }),
});

export type ArmTemplate = TemplateShape;

export interface ArmScope {
  template: ArmTemplate;
  /** Parameter values the enclosing module deployment passes (undefined for main.json itself). */
  passed?: Record<string, { value?: unknown }>;
  /** The scope of the template that declares the deployment. */
  parent?: ArmScope;
  /** The deployment's name (`castiel-redis`), or `main`. */
  module: string;
}

export interface ArmResource {
  type: string;
  name: string;
  properties: unknown;
  tags: unknown;
  identity: unknown;
  copy: { name: string; count: string | number } | undefined;
  scope: ArmScope;
  /** For module deployments: the nested scope. */
  nested?: ArmScope;
}

export const ROOT = join(__dirname, '..', '..');

export function loadMainTemplate(): ArmTemplate {
  return templateSchema.parse(JSON.parse(readFileSync(join(ROOT, 'infra', 'main.json'), 'utf8')) as unknown);
}

/** Every resource of main.json and of its modules, depth-first. */
export function flatten(template: ArmTemplate, scope: ArmScope = { template, module: 'main' }): ArmResource[] {
  return template.resources.flatMap((r) => {
    const resource: ArmResource = { type: r.type, name: r.name, properties: r.properties, tags: r.tags, identity: r.identity, copy: r.copy, scope };
    if (r.type !== 'Microsoft.Resources/deployments') return [resource];
    const d = deploymentSchema.parse(r);
    const nested: ArmScope = { template: templateSchema.parse(d.properties.template), passed: d.properties.parameters, parent: scope, module: r.name };
    return [{ ...resource, nested }, ...flatten(nested.template, nested)];
  });
}

/** An ARM expression (`[…]`); `[[` escapes a literal bracket. */
export const isExpression = (v: unknown): boolean => typeof v === 'string' && v.startsWith('[') && !v.startsWith('[[');

/**
 * Follow a value that is exactly one reference: `[variables('x')]`, `[parameters('x')]` (the module's passed
 * value, else the default) or, with `index`, `[variables('xs')[copyIndex()]]`. Anything else comes back as is.
 */
export function resolve(value: unknown, scope: ArmScope, index?: number, depth = 0): unknown {
  if (typeof value !== 'string' || !isExpression(value) || depth > 20) return value;
  const ref = /^\[(variables|parameters)\('(\w+)'\)(\[copyIndex\(\)\])?\]$/.exec(value);
  if (!ref) return value;
  const [, kind, name = '', indexed] = ref;
  let target: unknown;
  if (kind === 'variables') {
    target = resolve(scope.template.variables[name], scope, undefined, depth + 1);
  } else {
    const passed = scope.passed?.[name];
    target = passed !== undefined && 'value' in passed ? resolve(passed.value, scope.parent ?? scope, undefined, depth + 1) : scope.template.parameters[name]?.defaultValue;
  }
  if (indexed === undefined) return target;
  return Array.isArray(target) && index !== undefined ? (target as unknown[])[index] : value;
}

/** Property at a dotted path (no resolution). */
export function at(value: unknown, path: string): unknown {
  let cur = value;
  for (const p of path.split('.')) cur = typeof cur === 'object' && cur !== null && !Array.isArray(cur) ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

/** How many instances a resource has: its copy count when that is `length(variables('xs'))`, else 1. */
export function instanceCount(r: ArmResource): number {
  if (r.copy === undefined) return 1;
  const m = typeof r.copy.count === 'string' ? /^\[length\(variables\('(\w+)'\)\)\]$/.exec(r.copy.count) : null;
  const list = m ? resolve(`[variables('${m[1] ?? ''}')]`, r.scope) : undefined;
  if (!Array.isArray(list)) throw new Error(`${r.scope.module}: cannot count the copies of ${r.type} (${JSON.stringify(r.copy.count)})`);
  return list.length;
}

/**
 * The last segment of a resource's name, one per copy instance: a literal, or the last argument of the
 * compiler's `[format('{0}/{1}', parameters('name'), <last>)]` when that is a literal or a single reference.
 */
export function namesOf(r: ArmResource): string[] {
  return Array.from({ length: instanceCount(r) }, (_, i) => {
    let last: unknown;
    if (!isExpression(r.name)) last = r.name.split('/').pop();
    else {
      const m = /,\s*('([^']*)'|(?:variables|parameters)\('\w+'\)(?:\[copyIndex\(\)\])?)\)\]$/.exec(r.name) ?? /^\[((?:variables|parameters)\('\w+'\))\]$/.exec(r.name);
      const arg = m?.[1];
      last = arg === undefined ? undefined : arg.startsWith("'") ? m?.[2] : resolve(`[${arg}]`, r.scope, i);
    }
    if (typeof last !== 'string' || isExpression(last)) throw new Error(`${r.scope.module}: cannot resolve the name of ${r.type} from ${r.name}`);
    return last;
  });
}
