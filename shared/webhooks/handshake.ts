import type { KeyValueStore } from '../kv/port';

/**
 * A handshake that hands us a signing secret (Notion's `verification_token`)
 * is accepted only while an admin has armed it: whoever knows an integration
 * id could otherwise post the first token and become its webhook secret. An
 * admin arms it (POST …/webhook/handshake), creates the subscription at the
 * provider within the window, reads the received token back from the same
 * route to paste it into the provider's verify step, and the window closes on
 * the first token it accepts.
 */
export const HANDSHAKE_WINDOW_MS = 10 * 60_000;
/** The received token stays readable by the admin this long after it arrived (time to paste it into the provider). */
export const HANDSHAKE_SHOWN_MS = 60 * 60_000;

const armKey = (integrationId: string): string => `whhs:arm:{${integrationId}}`;
const receivedKey = (integrationId: string): string => `whhs:got:{${integrationId}}`;

export interface HandshakeStatus {
  armedUntil: string | null;
  /** The last token a handshake delivered, while it is still shown. */
  received: { at: string; token: string } | null;
}

export async function armHandshake(kv: KeyValueStore, integrationId: string, now: Date): Promise<string> {
  const until = new Date(now.getTime() + HANDSHAKE_WINDOW_MS).toISOString();
  await kv.set(armKey(integrationId), until, HANDSHAKE_WINDOW_MS);
  return until;
}

/**
 * Close the window for this one handshake. True when it was open; of two
 * handshakes racing, only one gets true (compare-and-delete on the value).
 */
export async function takeArmedHandshake(kv: KeyValueStore, integrationId: string): Promise<boolean> {
  const until = await kv.get(armKey(integrationId));
  if (until === undefined) return false;
  return kv.deleteIfEquals(armKey(integrationId), until);
}

export async function recordReceivedToken(kv: KeyValueStore, integrationId: string, token: string, now: Date): Promise<void> {
  await kv.set(receivedKey(integrationId), JSON.stringify({ at: now.toISOString(), token }), HANDSHAKE_SHOWN_MS);
}

export async function handshakeStatus(kv: KeyValueStore, integrationId: string): Promise<HandshakeStatus> {
  const [until, got] = await Promise.all([kv.get(armKey(integrationId)), kv.get(receivedKey(integrationId))]);
  let received: HandshakeStatus['received'] = null;
  if (got !== undefined) {
    const parsed = JSON.parse(got) as { at?: unknown; token?: unknown };
    if (typeof parsed.at === 'string' && typeof parsed.token === 'string') received = { at: parsed.at, token: parsed.token };
  }
  return { armedUntil: until ?? null, received };
}
