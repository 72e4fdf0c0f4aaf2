/**
 * In-memory org of the Salesforce sandbox: sObject definitions, records with
 * Salesforce's system fields, the recycle bin and the delete log. Pure data
 * and rules; HTTP lives in rest.ts, OAuth in oauth.ts.
 *
 * The data clock starts at `clockStart` and ticks one second per write, but
 * never falls behind the wall clock `now()` (a real org stamps SystemModstamp
 * with the time of the write, and the deleted feed's window is wall time).
 * Seeded content is deterministic; pass a fixed `now` for fixed timestamps.
 */
import { salesforceId, scalarText, sfDateTime } from './ids';

export interface ObjectDefinition {
  name: string;
  /** Id key prefix: 001 Account, 003 Contact, 006 Opportunity, a0… for custom objects. */
  keyPrefix: string;
  fields: string[];
  required?: string[];
  externalIdFields?: string[];
}

export const DEFAULT_OBJECTS: readonly ObjectDefinition[] = [
  {
    name: 'Account',
    keyPrefix: '001',
    fields: ['Name', 'Industry', 'Phone', 'Website', 'AnnualRevenue', 'NumberOfEmployees', 'Castiel_Id__c'],
    required: ['Name'],
    externalIdFields: ['Castiel_Id__c'],
  },
  {
    name: 'Contact',
    keyPrefix: '003',
    fields: ['FirstName', 'LastName', 'Email', 'Phone', 'AccountId', 'Castiel_Id__c'],
    required: ['LastName'],
    externalIdFields: ['Castiel_Id__c'],
  },
  { name: 'Opportunity', keyPrefix: '006', fields: ['Name', 'StageName', 'Amount', 'CloseDate', 'AccountId'], required: ['Name', 'StageName', 'CloseDate'] },
];

/** Fields every sObject has (the subset the sandbox keeps). */
export const SYSTEM_FIELDS = ['Id', 'IsDeleted', 'CreatedDate', 'LastModifiedDate', 'SystemModstamp'] as const;

export interface ObjectSchema {
  name: string;
  keyPrefix: string;
  /** Lowercase name → canonical name, system fields included (SOQL names are case-insensitive). */
  fields: Map<string, string>;
  required: string[];
  externalIds: Set<string>;
}

export interface SandboxRecord {
  type: string;
  Id: string;
  IsDeleted: boolean;
  CreatedDate: string;
  LastModifiedDate: string;
  SystemModstamp: string;
  values: Record<string, unknown>;
}

export interface Deletion {
  type: string;
  id: string;
  at: number;
}

export type WriteCheck = { ok: true; values: Record<string, unknown> } | { ok: false; code: string; message: string };

const INDUSTRIES = ['Technology', 'Manufacturing', 'Finance', 'Retail', 'Healthcare'];
const STAGES = ['Prospecting', 'Qualification', 'Proposal/Price Quote', 'Closed Won', 'Closed Lost'];
const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara'];

export class SalesforceSandboxState {
  private readonly schemas = new Map<string, ObjectSchema>();
  private readonly records = new Map<string, Map<string, SandboxRecord>>();
  private readonly deleteLog: Deletion[] = [];
  /** Nothing before this instant is left in the delete log (moved by purgeDeleteLog). */
  deleteLogStart = -Infinity;
  private clock: number;
  private seq = 1;

  constructor(
    readonly organizationId: string,
    clockStart: string,
    private readonly now: () => number,
    objects: readonly ObjectDefinition[] = DEFAULT_OBJECTS,
  ) {
    this.clock = Date.parse(clockStart);
    for (const o of objects) this.defineObject(o);
  }

  defineObject(definition: ObjectDefinition): void {
    const fields = new Map<string, string>();
    for (const f of [...SYSTEM_FIELDS, ...definition.fields]) fields.set(f.toLowerCase(), f);
    this.schemas.set(definition.name.toLowerCase(), {
      name: definition.name,
      keyPrefix: definition.keyPrefix,
      fields,
      required: definition.required ?? [],
      externalIds: new Set(definition.externalIdFields ?? []),
    });
    if (!this.records.has(definition.name)) this.records.set(definition.name, new Map());
  }

  /** Object names are case-insensitive in SOQL and URLs. */
  schema(name: string): ObjectSchema | undefined {
    return this.schemas.get(name.toLowerCase());
  }

  /** Checks a create/update body: known, writable fields; required ones on create. Returns canonical values. */
  checkWrite(schema: ObjectSchema, body: Record<string, unknown>, creating: boolean): WriteCheck {
    const values: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(body)) {
      const field = schema.fields.get(key.toLowerCase());
      if (!field) return { ok: false, code: 'INVALID_FIELD', message: `No such column '${key}' on sobject of type ${schema.name}` };
      if ((SYSTEM_FIELDS as readonly string[]).includes(field)) {
        return { ok: false, code: 'INVALID_FIELD_FOR_INSERT_UPDATE', message: `Unable to create/update fields: ${field}. Please check the security settings of this field.` };
      }
      values[field] = value;
    }
    if (creating) {
      const missing = schema.required.filter((f) => values[f] === undefined || values[f] === null || values[f] === '');
      if (missing.length > 0) return { ok: false, code: 'REQUIRED_FIELD_MISSING', message: `Required fields are missing: [${missing.join(', ')}]` };
    }
    return { ok: true, values };
  }

  create(schema: ObjectSchema, values: Record<string, unknown>): SandboxRecord {
    const at = sfDateTime(this.tick());
    const record: SandboxRecord = {
      type: schema.name,
      Id: salesforceId(schema.keyPrefix, this.seq++),
      IsDeleted: false,
      CreatedDate: at,
      LastModifiedDate: at,
      SystemModstamp: at,
      values: { ...values },
    };
    this.table(schema.name).set(record.Id, record);
    return structuredClone(record);
  }

  /** The record (live or in the recycle bin) by 15- or 18-character id. */
  find(schema: ObjectSchema, id: string): SandboxRecord | undefined {
    const table = this.table(schema.name);
    if (id.length === 18) return table.get(id);
    if (id.length !== 15) return undefined;
    for (const r of table.values()) if (r.Id.startsWith(id)) return r;
    return undefined;
  }

  update(record: SandboxRecord, values: Record<string, unknown>): SandboxRecord {
    const at = sfDateTime(this.tick());
    Object.assign(record.values, values);
    record.LastModifiedDate = at;
    record.SystemModstamp = at;
    return structuredClone(record);
  }

  /** Soft delete: to the recycle bin (queryAll still sees it, IsDeleted true) and the delete log. */
  remove(record: SandboxRecord): void {
    const at = this.tick();
    record.IsDeleted = true;
    record.SystemModstamp = sfDateTime(at);
    this.deleteLog.push({ type: record.type, id: record.Id, at });
  }

  /** Empties the record from the recycle bin: gone from queryAll, still in the delete log. */
  purge(schema: ObjectSchema, id: string): boolean {
    const record = this.find(schema, id);
    if (!record?.IsDeleted) return false;
    return this.table(schema.name).delete(record.Id);
  }

  /** Records whose external-id field equals `value` (text compare, as Salesforce matches). */
  byExternalId(schema: ObjectSchema, field: string, value: string): SandboxRecord[] {
    return [...this.table(schema.name).values()].filter((r) => !r.IsDeleted && r.values[field] !== undefined && scalarText(r.values[field]) === value);
  }

  rows(schema: ObjectSchema): SandboxRecord[] {
    return [...this.table(schema.name).values()];
  }

  deletions(type: string, fromMs: number, toMs: number): Deletion[] {
    return this.deleteLog.filter((d) => d.type === type && d.at >= fromMs && d.at < toMs);
  }

  /** Drops delete-log entries older than `beforeMs`, as Salesforce's purge job does. */
  purgeDeleteLog(beforeMs: number): void {
    this.deleteLogStart = Math.max(this.deleteLogStart, beforeMs);
    for (let i = this.deleteLog.length - 1; i >= 0; i--) if ((this.deleteLog[i]?.at ?? Infinity) < beforeMs) this.deleteLog.splice(i, 1);
  }

  /** Adds `n` records with deterministic content; each gets a later SystemModstamp. */
  seed(schema: ObjectSchema, n: number): SandboxRecord[] {
    const out: SandboxRecord[] = [];
    const accounts = this.schema('Account');
    const firstAccount = accounts ? this.rows(accounts)[0]?.Id ?? null : null;
    for (let i = 0; i < n; i++) {
      const k = this.table(schema.name).size + 1;
      out.push(this.create(schema, seedValues(schema, k, firstAccount)));
    }
    return out;
  }

  private table(name: string): Map<string, SandboxRecord> {
    let table = this.records.get(name);
    if (!table) {
      table = new Map();
      this.records.set(name, table);
    }
    return table;
  }

  /** The data clock: the latest write's stamp (epoch ms). */
  get time(): number {
    return this.clock;
  }

  private tick(): number {
    this.clock = Math.max(this.clock + 1000, Math.floor(this.now() / 1000) * 1000);
    return this.clock;
  }
}

function seedValues(schema: ObjectSchema, k: number, accountId: string | null): Record<string, unknown> {
  const pick = <T>(list: readonly T[]): T | undefined => list[k % list.length];
  switch (schema.name) {
    case 'Account':
      return {
        Name: `Seeded Account ${k}`,
        Industry: pick(INDUSTRIES) ?? null,
        Phone: `(415) 555-${String(1000 + k).slice(-4)}`,
        Website: `https://account-${k}.example.com`,
        AnnualRevenue: k * 1000,
        NumberOfEmployees: k * 3,
        Castiel_Id__c: null,
      };
    case 'Contact':
      return { FirstName: pick(FIRST_NAMES) ?? null, LastName: `Contact ${k}`, Email: `contact${k}@example.com`, Phone: null, AccountId: accountId, Castiel_Id__c: null };
    case 'Opportunity':
      return { Name: `Opportunity ${k}`, StageName: pick(STAGES) ?? 'Prospecting', Amount: k * 250, CloseDate: '2024-06-30', AccountId: accountId };
    default:
      return schema.fields.has('name') ? { Name: `Seeded ${schema.name} ${k}` } : {};
  }
}
