import fc from 'fast-check';
import {
  carryIdempotencyMarker,
  hasIdempotencyMarker,
  idempotencyMarker,
  markerOverhead,
  markerValue,
  stripIdempotencyMarker,
  withIdempotencyMarker,
} from '../../shared/providers/github/idempotency';

describe('idempotency marker', () => {
  it('appends the key in a hidden HTML comment after a blank line', () => {
    expect(withIdempotencyMarker('Hello', 'k-1')).toBe('Hello\n\n<!-- castiel:idempotency=k-1 -->');
    expect(withIdempotencyMarker(null, 'k-1')).toBe('<!-- castiel:idempotency=k-1 -->');
    expect(withIdempotencyMarker('Hello', 'k-1').length).toBe('Hello'.length + markerOverhead('k-1'));
  });

  it('keeps safe keys readable and hashes the rest deterministically', () => {
    expect(markerValue('0b7f9c1e-4b0a-4c55-9a1e-3f1f2a0c9d11')).toBe('0b7f9c1e-4b0a-4c55-9a1e-3f1f2a0c9d11');
    for (const unsafe of ['a -->', 'a--b', 'two words', '-lead', 'x'.repeat(129), '']) {
      expect(markerValue(unsafe)).toMatch(/^sha256\.[0-9a-f]{64}$/);
      expect(markerValue(unsafe)).toBe(markerValue(unsafe));
    }
    expect(markerValue('a--b')).not.toBe(markerValue('a--c'));
  });

  it('finds only the exact key', () => {
    const body = withIdempotencyMarker('text', 'key-1');
    expect(hasIdempotencyMarker(body, 'key-1')).toBe(true);
    expect(hasIdempotencyMarker(body, 'key-')).toBe(false);
    expect(hasIdempotencyMarker(body, 'key-10')).toBe(false);
    expect(hasIdempotencyMarker(null, 'key-1')).toBe(false);
  });

  it('strips back to the pushed body, whatever the body and key', () => {
    const body = fc.oneof(fc.constant(null), fc.string({ minLength: 1 }).filter((s) => !s.includes('castiel:idempotency=')));
    fc.assert(
      fc.property(body, fc.string(), (b, key) => {
        expect(stripIdempotencyMarker(withIdempotencyMarker(b, key))).toBe(b);
      }),
    );
  });

  it('strips a marker whose blank line was turned into CRLF by an edit in the web UI', () => {
    expect(stripIdempotencyMarker('Hi\r\n\r\n<!-- castiel:idempotency=k -->')).toBe('Hi');
    expect(stripIdempotencyMarker('no marker <!-- other comment -->')).toBe('no marker <!-- other comment -->');
  });

  it('an update carries the existing marker over unless the new body has one', () => {
    const previous = withIdempotencyMarker('old', 'k');
    expect(carryIdempotencyMarker(previous, 'new')).toBe(withIdempotencyMarker('new', 'k'));
    expect(carryIdempotencyMarker(previous, null)).toBe(idempotencyMarker('k'));
    expect(carryIdempotencyMarker(previous, previous)).toBe(previous);
    expect(carryIdempotencyMarker('plain', 'new')).toBe('new');
    expect(carryIdempotencyMarker(null, null)).toBeNull();
  });
});
