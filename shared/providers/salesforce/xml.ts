/**
 * A small, strict XML parser for SOAP bodies we receive (Salesforce Outbound
 * Messages). No XML library is installed, and the usual ones resolve DTDs and
 * entities unless told not to; this one cannot:
 *
 * - `<!DOCTYPE`, `<!ENTITY` and every other markup declaration is refused,
 *   so there are no external entities (XXE) and no entity expansion
 *   ("billion laughs"). Only the five predefined entities and character
 *   references are decoded; any other `&name;` is an error.
 * - Processing instructions other than the leading `<?xml …?>` are refused;
 *   a declared encoding must be UTF-8 (the caller decodes bytes strictly).
 * - Namespaces are resolved (prefix → URI) so callers match on URI + local
 *   name, not on whatever prefix a sender picked.
 * - Depth, element and attribute counts are bounded.
 *
 * It builds a small tree; text is kept per element (mixed content is not
 * something SOAP uses).
 */

export interface XmlElement {
  /** The name as written, `soapenv:Body`. */
  name: string;
  local: string;
  /** Namespace URI ('' when none applies). */
  namespace: string;
  /** Attribute values by qualified name as written (namespace declarations included). */
  attributes: ReadonlyMap<string, string>;
  children: XmlElement[];
  /** Character data directly inside this element (text and CDATA), decoded. */
  text: string;
  /** In-scope prefix → URI bindings, for QName values such as `xsi:type="sf:Account"`. */
  scope: ReadonlyMap<string, string>;
}

export class XmlError extends Error {
  override readonly name = 'XmlError';
}

export interface XmlLimits {
  maxDepth: number;
  maxElements: number;
  maxAttributes: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = { maxDepth: 32, maxElements: 50_000, maxAttributes: 32 };

const NAME = /[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?/y;
const DECLARATION = /^<\?xml\s+version\s*=\s*(["'])1\.\d\1(?:\s+encoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:\s+standalone\s*=\s*(["'])(?:yes|no)\4)?\s*\?>/;
/** Characters XML 1.0 never allows, even as references (§2.2). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const PREDEFINED = new Map([['lt', '<'], ['gt', '>'], ['amp', '&'], ['quot', '"'], ['apos', "'"]]);
const XML_NS = 'http://www.w3.org/XML/1998/namespace';

export function parseXml(input: string, limits: XmlLimits = DEFAULT_XML_LIMITS): XmlElement {
  if (FORBIDDEN_CHARS.test(input)) throw new XmlError('control characters are not allowed in XML');
  let i = input.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (input.startsWith('<?xml', i)) {
    const declaration = DECLARATION.exec(input.slice(i));
    if (!declaration) throw new XmlError('malformed XML declaration');
    const encoding = declaration[3];
    if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) throw new XmlError(`encoding ${encoding} is not accepted (UTF-8 only)`);
    i += declaration[0].length;
  }

  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;

  while (i < input.length) {
    if (input.charCodeAt(i) !== 0x3c /* < */) {
      const end = input.indexOf('<', i);
      const raw = input.slice(i, end === -1 ? input.length : end);
      const top = stack.at(-1);
      if (top) top.text += decode(raw);
      else if (raw.trim() !== '') throw new XmlError('text outside the root element');
      i = end === -1 ? input.length : end;
      continue;
    }
    if (input.startsWith('<!--', i)) {
      const end = input.indexOf('-->', i + 4);
      if (end === -1) throw new XmlError('unterminated comment');
      if (input.slice(i + 4, end).includes('--')) throw new XmlError('"--" inside a comment');
      i = end + 3;
    } else if (input.startsWith('<![CDATA[', i)) {
      const top = stack.at(-1);
      if (!top) throw new XmlError('CDATA outside the root element');
      const end = input.indexOf(']]>', i + 9);
      if (end === -1) throw new XmlError('unterminated CDATA section');
      top.text += input.slice(i + 9, end);
      i = end + 3;
    } else if (input.startsWith('<!', i)) {
      throw new XmlError('DTDs, entity declarations and other markup declarations are not accepted');
    } else if (input.startsWith('<?', i)) {
      throw new XmlError('processing instructions are not accepted');
    } else if (input.startsWith('</', i)) {
      const [name, after] = readName(input, i + 2);
      const close = skipSpace(input, after);
      if (input[close] !== '>') throw new XmlError(`malformed end tag </${name}`);
      const open = stack.pop();
      if (open?.name !== name) throw new XmlError(`end tag </${name}> does not match <${open?.name ?? '(none)'}>`);
      i = close + 1;
    } else {
      if (root && stack.length === 0) throw new XmlError('more than one root element');
      if (++count > limits.maxElements) throw new XmlError('too many elements');
      if (stack.length >= limits.maxDepth) throw new XmlError('elements nested too deeply');
      const tag = readStartTag(input, i + 1, limits);
      const element = resolve(tag.name, tag.attributes, stack.at(-1)?.scope);
      stack.at(-1)?.children.push(element);
      root ??= element;
      if (!tag.selfClosing) stack.push(element);
      i = tag.end;
    }
  }
  if (stack.length > 0) throw new XmlError(`unclosed element <${stack.at(-1)?.name ?? ''}>`);
  if (!root) throw new XmlError('no root element');
  return root;
}

/** The namespace URI and local part of a QName value (an attribute like `xsi:type`), in an element's scope. */
export function resolveQName(element: XmlElement, qname: string): { namespace: string; local: string } | undefined {
  const match = /^(?:([A-Za-z_][A-Za-z0-9._-]*):)?([A-Za-z_][A-Za-z0-9._-]*)$/.exec(qname.trim());
  if (!match?.[2]) return undefined;
  const namespace = element.scope.get(match[1] ?? '');
  if (match[1] !== undefined && namespace === undefined) return undefined;
  return { namespace: namespace ?? '', local: match[2] };
}

interface StartTag {
  name: string;
  attributes: Map<string, string>;
  selfClosing: boolean;
  end: number;
}

function readStartTag(input: string, from: number, limits: XmlLimits): StartTag {
  const [name, afterName] = readName(input, from);
  const attributes = new Map<string, string>();
  let i = afterName;
  for (;;) {
    const next = skipSpace(input, i);
    if (input.startsWith('/>', next)) return { name, attributes, selfClosing: true, end: next + 2 };
    if (input[next] === '>') return { name, attributes, selfClosing: false, end: next + 1 };
    if (next === i) throw new XmlError(`malformed start tag <${name}`);
    const [attr, afterAttr] = readName(input, next);
    let j = skipSpace(input, afterAttr);
    if (input[j] !== '=') throw new XmlError(`attribute ${attr} has no value`);
    j = skipSpace(input, j + 1);
    const quote = input[j];
    if (quote !== '"' && quote !== "'") throw new XmlError(`attribute ${attr} value is not quoted`);
    const close = input.indexOf(quote, j + 1);
    if (close === -1) throw new XmlError(`unterminated value of attribute ${attr}`);
    const raw = input.slice(j + 1, close);
    if (raw.includes('<')) throw new XmlError(`"<" in the value of attribute ${attr}`);
    if (attributes.has(attr)) throw new XmlError(`duplicate attribute ${attr}`);
    if (attributes.size >= limits.maxAttributes) throw new XmlError('too many attributes');
    attributes.set(attr, decode(raw));
    i = close + 1;
  }
}

function resolve(name: string, attributes: Map<string, string>, parentScope: ReadonlyMap<string, string> | undefined): XmlElement {
  const scope = new Map(parentScope ?? [['xml', XML_NS]]);
  for (const [attr, value] of attributes) {
    if (attr === 'xmlns') scope.set('', value);
    else if (attr.startsWith('xmlns:')) {
      // Undeclaring a prefix is XML 1.1 only (Namespaces 1.0 §3).
      if (value === '') throw new XmlError(`empty namespace for prefix ${attr.slice(6)}`);
      scope.set(attr.slice(6), value);
    }
  }
  for (const attr of attributes.keys()) {
    const prefix = attr.includes(':') ? attr.slice(0, attr.indexOf(':')) : undefined;
    if (prefix !== undefined && prefix !== 'xmlns' && !scope.has(prefix)) throw new XmlError(`undeclared prefix ${prefix}`);
  }
  const colon = name.indexOf(':');
  const prefix = colon === -1 ? '' : name.slice(0, colon);
  const namespace = scope.get(prefix);
  if (prefix !== '' && namespace === undefined) throw new XmlError(`undeclared prefix ${prefix}`);
  return { name, local: colon === -1 ? name : name.slice(colon + 1), namespace: namespace ?? '', attributes, children: [], text: '', scope };
}

function readName(input: string, at: number): [string, number] {
  NAME.lastIndex = at;
  const match = NAME.exec(input);
  if (!match) throw new XmlError('expected a name');
  return [match[0], at + match[0].length];
}

function skipSpace(input: string, at: number): number {
  let i = at;
  while (i < input.length && ' \t\r\n'.includes(input.charAt(i))) i++;
  return i;
}

/** Predefined entities and character references; anything else is an error (no custom entities exist here). */
function decode(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&\s]{0,10});?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw new XmlError('"&" that does not start a reference');
    const predefined = PREDEFINED.get(ref);
    if (predefined !== undefined) return predefined;
    const numeric = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(ref);
    if (!numeric) throw new XmlError(`undefined entity &${ref};`);
    const code = numeric[1] !== undefined ? parseInt(numeric[1], 16) : Number(numeric[2]);
    const allowed = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
    if (!allowed) throw new XmlError('character reference to a character XML does not allow');
    return String.fromCodePoint(code);
  });
}
