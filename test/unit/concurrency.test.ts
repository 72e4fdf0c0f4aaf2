import { mapLimit, readAhead } from '../../shared/sync/concurrency';

async function* numbers(n: number, log: string[], failAt?: number): AsyncGenerator<number> {
  try {
    for (let i = 0; i < n; i++) {
      log.push(`produce ${i}`);
      if (i === failAt) throw new Error(`boom at ${i}`);
      await new Promise((r) => setTimeout(r, 1));
      yield i;
    }
  } finally {
    log.push('closed');
  }
}

test('readAhead yields every item in order while producing the next one early', async () => {
  const log: string[] = [];
  const seen: number[] = [];
  for await (const n of readAhead(numbers(4, log))) {
    log.push(`consume ${n}`);
    seen.push(n);
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(seen).toEqual([0, 1, 2, 3]);
  // Item 1 is being produced before item 0 is consumed.
  expect(log.indexOf('produce 1')).toBeLessThan(log.indexOf('consume 0') + 1);
  expect(log.filter((l) => l === 'closed')).toHaveLength(1);
});

test('readAhead surfaces a producer error only after the items before it were consumed', async () => {
  const log: string[] = [];
  const seen: number[] = [];
  await expect(
    (async () => {
      for await (const n of readAhead(numbers(5, log, 2))) seen.push(n);
    })(),
  ).rejects.toThrow('boom at 2');
  expect(seen).toEqual([0, 1]);
});

test('breaking out of readAhead closes the source', async () => {
  const log: string[] = [];
  for await (const n of readAhead(numbers(10, log))) if (n === 1) break;
  expect(log).toContain('closed');
});

test('mapLimit keeps order and never exceeds the limit', async () => {
  let active = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (x) => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((r) => setTimeout(r, x));
    active--;
    return x * 10;
  });
  expect(out).toEqual([50, 10, 40, 20, 30, 0]);
  expect(peak).toBe(2);
});
