/** A binary min-heap ordered by a numeric key. */
export class MinHeap<T> {
  private readonly items: { key: number; value: T }[] = [];

  get size(): number {
    return this.items.length;
  }

  push(key: number, value: T): void {
    const items = this.items;
    const entry = { key, value };
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.key <= key) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = entry;
  }

  peekKey(): number | undefined {
    return this.items[0]?.key;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (!top || !last || items.length === 0) return top?.value;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.key < items[left]!.key ? right : left;
      if (items[child]!.key >= last.key) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top.value;
  }
}
