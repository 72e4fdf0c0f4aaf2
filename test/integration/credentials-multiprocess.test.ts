/**
 * 4 processes × 20 concurrent callers on one expired token, against an OAuth
 * server that rotates refresh tokens and revokes the whole family when a used
 * one comes back. The processes share only real Redis (random key prefix) and
 * the encrypted secret store directory, as scaled-out instances share Redis
 * and Key Vault. Exactly one token request may happen, and no revocation.
 *
 * Children run the TypeScript sources through @swc/core (as jest does), so
 * they test exactly this tree without a build.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentialsHarness, type Harness } from '../helpers/credentials-harness';
import type { ChildReport } from '../helpers/credentials-child';
import type { FakeCredentials } from '../helpers/fake-oauth-provider';

const PROCESSES = 4;
const CALLERS = 20;

/** Registers a .ts loader backed by @swc/core, then runs the child entry. */
const BOOT = `
const fs = require('node:fs');
const swc = require('@swc/core');
require.extensions['.ts'] = (m, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' },
  });
  m._compile(code, filename);
};
require(process.env.CRED_CHILD_ENTRY);
`;

let h: Harness;
let dir: string;
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

interface Child {
  proc: ChildProcess;
  ready: Promise<void>;
  report: Promise<ChildReport>;
  exited: Promise<number | null>;
}

function startChild(envs: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['-e', BOOT], {
    cwd: path.join(__dirname, '..', '..'),
    env: { PATH: process.env.PATH ?? '', ...envs },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { resolve(code); }));
  const ready = new Promise<void>((resolve, reject) => {
    proc.on('message', (m) => { if (m === 'ready') resolve(); });
    void exited.then((code) => { reject(new Error(`child exited (${String(code)}) before it was ready`)); });
  });
  const report = new Promise<ChildReport>((resolve, reject) => {
    proc.on('message', (m: unknown) => {
      if (m !== null && typeof m === 'object' && 'report' in m) resolve((m as { report: ChildReport }).report);
      if (m !== null && typeof m === 'object' && 'fatal' in m) reject(new Error(String(m.fatal)));
    });
    void exited.then(() => { reject(new Error('child exited without a report')); });
  });
  return { proc, ready, report, exited };
}

test(`${PROCESSES} processes × ${CALLERS} callers on an expired token: exactly one token request, no revocation`, async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'castiel-cred-mp-'));
  const key = randomBytes(32);
  h = await credentialsHarness({ secretsDir: dir, secretsKey: key, redisPrefix: `test:cred-mp:${randomUUID()}:` });
  const integration = await h.integration();
  const expired = h.oauthCredentials(Date.now() - 60_000) as Extract<FakeCredentials, { type: 'oauth' }>;
  await h.plant(integration, { kind: 'oauth', credentials: expired, createdAt: new Date().toISOString() }, 1);
  // A slow token endpoint keeps the refresh in flight while every process piles in.
  h.server.behaviour.delayMs = 300;

  const kids = Array.from({ length: PROCESSES }, () =>
    startChild({
      CRED_CHILD_ENTRY: path.join(__dirname, '..', 'helpers', 'credentials-child.ts'),
      CRED_REDIS_PREFIX: h.redisPrefix,
      CRED_SECRETS_DIR: dir,
      CRED_SECRETS_KEY: key.toString('base64'),
      CRED_OAUTH_URL: h.server.url,
      CRED_INTEGRATION_ID: integration.id,
      CRED_CALLERS: String(CALLERS),
    }),
  );
  await Promise.all(kids.map((k) => k.ready));
  for (const k of kids) k.proc.send('go');
  const reports = await Promise.all(kids.map((k) => k.report));
  await Promise.all(kids.map((k) => k.exited));

  expect(reports.flatMap((r) => r.errors)).toEqual([]);
  expect(reports.reduce((n, r) => n + r.ok, 0)).toBe(PROCESSES * CALLERS);
  expect(new Set(reports.map((r) => r.pid)).size).toBe(PROCESSES);
  expect(h.server.tokenRequests).toEqual([{ grant: 'refresh_token', status: 200 }]);
  expect(h.server.revocations).toBe(0);

  const stored = JSON.parse((await h.store.get(integration.credentialsSecret))?.value ?? '{}') as { generation: number; credentials: { accessToken: string } };
  expect(stored.generation).toBe(2);
  expect(h.server.isLive(stored.credentials.accessToken)).toBe(true);
  const storedHash = createHash('sha256').update(stored.credentials.accessToken).digest('hex');
  expect(new Set(reports.flatMap((r) => r.tokens))).toEqual(new Set([storedHash]));
}, 90_000);
