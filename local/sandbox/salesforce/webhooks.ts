/**
 * Deliveries the sandbox sends, as a Salesforce org would:
 *
 * - Outbound Messages: SOAP 1.1 `notifications` (enterprise WSDL shape),
 *   up to 100 Notifications, `SOAPAction: ""`; acknowledged when the answer
 *   holds `<Ack>true</Ack>`.
 *   https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_wsdl.htm
 * - Apex/Flow callouts signed with Standard Webhooks (the scheme customers
 *   deploy from the README snippet).
 *
 * Signs and builds independently of shared/providers/salesforce, so a test
 * that delivers here and verifies there checks one implementation against
 * another.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { scalarText } from './ids';

/** Salesforce gives up on an Outbound Message answer after 60 s (then retries). */
const OUTBOUND_TIMEOUT_MS = 60_000;
/** Apex callouts time out after 10 s by default. */
const CALLOUT_TIMEOUT_MS = 10_000;
const APEX_USER_AGENT = 'SFDC-Callout/62.0';

export interface OutboundNotification {
  /** Notification id (key prefix 04l); the same id on a redelivery. */
  id: string;
  type: string;
  fields: Record<string, unknown>;
}

export interface OutboundMessageInput {
  organizationId: string;
  actionId: string;
  notifications: OutboundNotification[];
  /** Set to mimic "Send Session ID" being ticked. */
  sessionId?: string;
  instanceUrl: string;
}

export interface OutboundResult {
  status: number;
  acked: boolean;
  body: string;
  notificationIds: string[];
}

export interface CalloutDelivery {
  url: string;
  /** The integration's secret(s): `whsec_<base64>` or raw. Several → several signatures (rotation). */
  secret: string | string[];
  /** An object is sent as compact JSON; a string byte for byte. */
  payload: unknown;
  /** `webhook-id`; a fresh `msg_…` id when omitted. */
  id?: string;
  /** `webhook-timestamp` in seconds; now when omitted. */
  timestamp?: number;
}

export interface CalloutResult {
  status: number;
  id: string;
  body: string;
}

export function outboundMessageXml(input: OutboundMessageInput): string {
  const version = '62.0';
  const org15 = input.organizationId.slice(0, 15);
  const notifications = input.notifications
    .map((n) => {
      const fields = Object.entries(n.fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => (v === null ? `<sf:${k} xsi:nil="true"/>` : `<sf:${k}>${escapeXml(scalarText(v))}</sf:${k}>`))
        .join('');
      return `<Notification><Id>${n.id}</Id><sObject xsi:type="sf:${n.type}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">${fields}</sObject></Notification>`;
    })
    .join('');
  const session = input.sessionId === undefined ? '<SessionId xsi:nil="true"/>' : `<SessionId>${escapeXml(input.sessionId)}</SessionId>`;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    '<soapenv:Body>' +
    '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">' +
    `<OrganizationId>${input.organizationId}</OrganizationId>` +
    `<ActionId>${input.actionId}</ActionId>` +
    session +
    `<EnterpriseUrl>${input.instanceUrl}/services/Soap/c/${version}/${org15}</EnterpriseUrl>` +
    `<PartnerUrl>${input.instanceUrl}/services/Soap/u/${version}/${org15}</PartnerUrl>` +
    notifications +
    '</notifications>' +
    '</soapenv:Body>' +
    '</soapenv:Envelope>'
  );
}

export async function postOutboundMessage(url: string, input: OutboundMessageInput): Promise<OutboundResult> {
  const response = await fetch(url, {
    method: 'POST',
    body: outboundMessageXml(input),
    signal: AbortSignal.timeout(OUTBOUND_TIMEOUT_MS),
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
  });
  const body = await response.text();
  return {
    status: response.status,
    // Salesforce reads the SOAP answer, not only the status.
    acked: response.ok && /<(?:\w+:)?Ack>\s*true\s*<\/(?:\w+:)?Ack>/.test(body),
    body,
    notificationIds: input.notifications.map((n) => n.id),
  };
}

/** The signature header value for one secret: `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`. */
export function calloutSignature(secret: string, id: string, timestamp: number, body: Buffer): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
  const mac = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), body])).digest('base64');
  return `v1,${mac}`;
}

export async function deliverCallout(delivery: CalloutDelivery): Promise<CalloutResult> {
  const raw = Buffer.from(typeof delivery.payload === 'string' ? delivery.payload : JSON.stringify(delivery.payload));
  const id = delivery.id ?? `msg_${randomUUID().replace(/-/g, '')}`;
  const timestamp = delivery.timestamp ?? Math.floor(Date.now() / 1000);
  const secrets = Array.isArray(delivery.secret) ? delivery.secret : [delivery.secret];
  const response = await fetch(delivery.url, {
    method: 'POST',
    body: raw,
    signal: AbortSignal.timeout(CALLOUT_TIMEOUT_MS),
    headers: {
      'content-type': 'application/json',
      'user-agent': APEX_USER_AGENT,
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': secrets.map((s) => calloutSignature(s, id, timestamp, raw)).join(' '),
    },
  });
  return { status: response.status, id, body: await response.text() };
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
