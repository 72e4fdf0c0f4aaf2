/** Run `fn` over `items` with at most `limit` in flight; results keep input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Iterate `source` one item ahead: while the consumer works on item N, item
 * N+1 is already being produced (the next page is in flight while this one is
 * persisted). Nothing is skipped or reordered; an error from the read-ahead
 * surfaces when the consumer asks for that item. Stopping early (break/throw)
 * returns the source generator, releasing it.
 */
export async function* readAhead<T>(source: AsyncIterator<T>): AsyncGenerator<T> {
  let pending: Promise<IteratorResult<T>> = source.next();
  try {
    for (;;) {
      const current = await pending;
      if (current.done === true) return;
      pending = source.next();
      // A read-ahead rejection is observed when awaited on the next turn; mark it handled meanwhile.
      pending.catch(() => undefined);
      yield current.value;
    }
  } finally {
    await source.return?.();
  }
}
