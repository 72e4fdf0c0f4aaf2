import { createHmac, createPublicKey, generateKeyPairSync, verify, type JsonWebKey } from 'node:crypto';
import { signJwtRs256, verifyJwtRs256 } from '../../shared/providers/jwt';

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function keyPair(kid: string): { privatePem: string; publicPem: string; jwk: JsonWebKey } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
  };
}

const A = keyPair('key-a');
const B = keyPair('key-b');
const CLAIMS = { iss: 'https://accounts.google.com', aud: 'https://example.com', exp: 1_550_185_935, iat: 1_550_182_335 };

describe('RS256 round trip', () => {
  it('verifies what it signs, returning header and claims', () => {
    const token = signJwtRs256(CLAIMS, A.privatePem, 'key-a');
    expect(verifyJwtRs256(token, [B.jwk, A.jwk])).toEqual({ ok: true, header: { alg: 'RS256', typ: 'JWT', kid: 'key-a' }, claims: CLAIMS });
  });

  it('produces a compact JWS whose signature node verifies independently', () => {
    const token = signJwtRs256(CLAIMS, A.privatePem, 'key-a');
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'key-a' });
    expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toEqual(CLAIMS);
    expect(verify('RSA-SHA256', Buffer.from(`${h}.${p}`), A.publicPem, Buffer.from(s, 'base64url'))).toBe(true);
  });

  it('omits kid when none is given', () => {
    const [h] = signJwtRs256(CLAIMS, A.privatePem).split('.') as [string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT' });
  });
});

describe('RFC 7515 appendix A.2 (published RS256 example)', () => {
  const n =
    'ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ';
  const token =
    'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw';
  const jwk: JsonWebKey = { kty: 'RSA', n, e: 'AQAB' };

  it('the published signature is valid for the published key (JWK import as jwt.ts does it)', () => {
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(verify('RSA-SHA256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'))).toBe(true);
  });

  it('is still refused: the header has no kid, and the verifier never guesses a key', () => {
    expect(verifyJwtRs256(token, [jwk])).toEqual({ ok: false, reason: 'signing key not found' });
    expect(verifyJwtRs256(token, [{ ...jwk, kid: 'any' }])).toEqual({ ok: false, reason: 'signing key not found' });
  });
});

describe('rejections', () => {
  const good = signJwtRs256(CLAIMS, A.privatePem, 'key-a');
  const [h, p, s] = good.split('.') as [string, string, string];

  it('alg none, with or without a signature', () => {
    const header = b64({ alg: 'none', typ: 'JWT', kid: 'key-a' });
    expect(verifyJwtRs256(`${header}.${p}.`, [A.jwk])).toEqual({ ok: false, reason: 'alg none is not accepted' });
    expect(verifyJwtRs256(`${header}.${p}.${s}`, [A.jwk])).toEqual({ ok: false, reason: 'alg none is not accepted' });
  });

  it('HS256 keyed with the public key (key confusion)', () => {
    const header = b64({ alg: 'HS256', typ: 'JWT', kid: 'key-a' });
    const mac = createHmac('sha256', A.publicPem).update(`${header}.${p}`).digest('base64url');
    expect(verifyJwtRs256(`${header}.${p}.${mac}`, [A.jwk])).toEqual({ ok: false, reason: 'alg HS256 is not accepted' });
  });

  it('unknown kid, missing kid, and a key set without RSA keys', () => {
    expect(verifyJwtRs256(signJwtRs256(CLAIMS, A.privatePem, 'key-z'), [A.jwk, B.jwk])).toEqual({ ok: false, reason: 'signing key not found' });
    expect(verifyJwtRs256(signJwtRs256(CLAIMS, A.privatePem), [A.jwk])).toEqual({ ok: false, reason: 'signing key not found' });
    expect(verifyJwtRs256(good, [{ kty: 'EC', kid: 'key-a' }])).toEqual({ ok: false, reason: 'signing key not found' });
    expect(verifyJwtRs256(good, [])).toEqual({ ok: false, reason: 'signing key not found' });
  });

  it('the right kid on another key', () => {
    expect(verifyJwtRs256(good, [{ ...B.jwk, kid: 'key-a' }])).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('a tampered payload (a later exp) keeps the signature but fails it', () => {
    const forged = b64({ ...CLAIMS, exp: CLAIMS.exp + 86_400 });
    expect(verifyJwtRs256(`${h}.${forged}.${s}`, [A.jwk])).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('a tampered header (another kid pointing at the same key) fails the signature', () => {
    const header = b64({ alg: 'RS256', typ: 'JWT', kid: 'key-b' });
    expect(verifyJwtRs256(`${header}.${p}.${s}`, [{ ...A.jwk, kid: 'key-b' }])).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('a flipped signature byte, a truncated signature, no signature', () => {
    const sig = Buffer.from(s, 'base64url');
    sig[10] = (sig[10] ?? 0) ^ 0x01;
    expect(verifyJwtRs256(`${h}.${p}.${sig.toString('base64url')}`, [A.jwk])).toEqual({ ok: false, reason: 'signature mismatch' });
    expect(verifyJwtRs256(`${h}.${p}.${s.slice(0, -8)}`, [A.jwk])).toEqual({ ok: false, reason: 'signature mismatch' });
    expect(verifyJwtRs256(`${h}.${p}.`, [A.jwk])).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('malformed tokens', () => {
    expect(verifyJwtRs256(`${h}.${p}`, [A.jwk])).toEqual({ ok: false, reason: 'token is not a compact JWS' });
    expect(verifyJwtRs256(`${good}.extra`, [A.jwk])).toEqual({ ok: false, reason: 'token is not a compact JWS' });
    expect(verifyJwtRs256(`${b64('not json')}.${p}.${s}`, [A.jwk])).toEqual({ ok: false, reason: 'token header or payload is not JSON' });
    expect(verifyJwtRs256(`${b64({ kid: 'key-a' })}.${p}.${s}`, [A.jwk])).toEqual({ ok: false, reason: 'token header or payload is not JSON' });
    const arrayClaims = signJwtRs256({}, A.privatePem, 'key-a').split('.');
    expect(verifyJwtRs256(`${arrayClaims[0] ?? ''}.${b64([1, 2])}.${arrayClaims[2] ?? ''}`, [A.jwk])).toEqual({ ok: false, reason: 'claims are not an object' });
  });
});
