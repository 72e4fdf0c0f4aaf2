/**
 * Salesforce Outbound Messages: SOAP 1.1 `notifications` posted by a
 * workflow rule or flow, up to 100 `Notification`s each.
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_wsdl.htm
 *
 * They carry no signature: the receiver checks the OrganizationId (plus
 * TLS, Salesforce's IP ranges, optionally a client certificate) and answers
 * `<Ack>true</Ack>`, or Salesforce retries with backoff for 24 hours. A
 * Notification's `Id` stays the same across those retries: the dedupe key.
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_understanding.htm
 */
import { timingSafeEqual } from 'node:crypto';
import { API_NAME, RECORD_ID } from './schemas';
import { parseXml, resolveQName, XmlError, type XmlElement } from './xml';

const SOAP_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const OUTBOUND_NS = 'http://soap.sforce.com/2005/09/outbound';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
/** `maxOccurs="100"` on Notification in the outbound WSDL. */
export const MAX_NOTIFICATIONS = 100;

export interface OutboundNotification {
  /** The notification id (key prefix 04l): the same on every retry. */
  id: string;
  /** From `xsi:type="sf:Account"`. */
  sObjectType: string;
  /** The record's `sf:Id`, when the message includes it. */
  recordId?: string;
}

export interface OutboundMessage {
  organizationId: string;
  actionId: string;
  /** True when "Send Session ID" is on: the body then holds a live session. */
  hasSessionId: boolean;
  notifications: OutboundNotification[];
}

export type OutboundParse = { ok: true; message: OutboundMessage } | { ok: false; reason: string };

/** The acknowledgement Salesforce waits for (`notificationsResponse` in the WSDL). */
export const OUTBOUND_ACK =
  '<?xml version="1.0" encoding="UTF-8"?>' +
  `<soapenv:Envelope xmlns:soapenv="${SOAP_ENVELOPE_NS}">` +
  '<soapenv:Body>' +
  `<notificationsResponse xmlns="${OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>` +
  '</soapenv:Body>' +
  '</soapenv:Envelope>';

export function parseOutboundMessage(raw: Buffer): OutboundParse {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return { ok: false, reason: 'body is not valid UTF-8' };
  }
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (error) {
    if (error instanceof XmlError) return { ok: false, reason: `XML rejected: ${error.message}` };
    throw error;
  }
  try {
    return { ok: true, message: interpret(root) };
  } catch (error) {
    if (error instanceof ShapeError) return { ok: false, reason: error.message };
    throw error;
  }
}

/**
 * Constant-time OrganizationId check. 15- and 18-character forms name the
 * same org when their first 15 characters (the case-sensitive id) agree; the
 * last three only encode the case.
 */
export function sameOrganization(expected: string, given: string): boolean {
  if (expected.length < 15 || given.length < 15) return false;
  return timingSafeEqual(Buffer.from(expected.slice(0, 15), 'latin1'), Buffer.from(given.slice(0, 15), 'latin1'));
}

class ShapeError extends Error {}

function interpret(root: XmlElement): OutboundMessage {
  if (root.namespace !== SOAP_ENVELOPE_NS || root.local !== 'Envelope') throw new ShapeError('not a SOAP 1.1 envelope');
  const body = only(root, SOAP_ENVELOPE_NS, 'Body');
  const notifications = only(body, OUTBOUND_NS, 'notifications');
  const organizationId = idText(only(notifications, OUTBOUND_NS, 'OrganizationId'), 'OrganizationId');
  const actionId = idText(only(notifications, OUTBOUND_NS, 'ActionId'), 'ActionId');
  const session = children(notifications, OUTBOUND_NS, 'SessionId')[0];
  const hasSessionId = session !== undefined && session.attributes.get(xsiAttribute(session, 'nil')) !== 'true' && session.text.trim() !== '';

  const items = children(notifications, OUTBOUND_NS, 'Notification');
  if (items.length === 0) throw new ShapeError('no Notification in the message');
  if (items.length > MAX_NOTIFICATIONS) throw new ShapeError(`more than ${MAX_NOTIFICATIONS} notifications`);
  return { organizationId, actionId, hasSessionId, notifications: items.map(notification) };
}

function notification(item: XmlElement): OutboundNotification {
  const id = idText(only(item, OUTBOUND_NS, 'Id'), 'Notification Id');
  const sObject = only(item, OUTBOUND_NS, 'sObject');
  const type = sObject.attributes.get(xsiAttribute(sObject, 'type'));
  const qname = type === undefined ? undefined : resolveQName(sObject, type);
  if (!qname || !API_NAME.test(qname.local)) throw new ShapeError('sObject without a valid xsi:type');
  const out: OutboundNotification = { id, sObjectType: qname.local };
  // The record id is in the sObject namespace (enterprise or partner): match on the local name.
  const recordId = sObject.children.find((c) => c.local === 'Id')?.text.trim();
  if (recordId !== undefined && RECORD_ID.test(recordId)) out.recordId = recordId;
  return out;
}

function children(parent: XmlElement, namespace: string, local: string): XmlElement[] {
  return parent.children.filter((c) => c.namespace === namespace && c.local === local);
}

function only(parent: XmlElement, namespace: string, local: string): XmlElement {
  const found = children(parent, namespace, local);
  if (found.length !== 1 || !found[0]) throw new ShapeError(`expected exactly one ${local} in ${parent.local}`);
  return found[0];
}

function idText(element: XmlElement, label: string): string {
  const text = element.text.trim();
  if (!RECORD_ID.test(text)) throw new ShapeError(`${label} is not a Salesforce id`);
  return text;
}

/** The attribute name bound to the XML Schema instance namespace in this element's scope (`xsi:type`). */
function xsiAttribute(element: XmlElement, local: string): string {
  for (const [prefix, uri] of element.scope) if (uri === XSI_NS && prefix !== '') return `${prefix}:${local}`;
  return `xsi:${local}`;
}
