/**
 * One-to-one assignment of calls to parents in service order.
 *
 * `options[i]` lists the parents call `i` may belong to, earliest-arrived first; calls are given in
 * the order they started. The result gives each call at most one parent and each parent at most one
 * call, such that:
 *  1. as many calls as possible get a parent (a maximum matching), and
 *  2. going through the calls in order, each call gets the earliest-arrived parent it can without
 *     breaking 1 for the calls before it (earlier calls keep priority: a service that handles requests
 *     in arrival order makes its calls in that order).
 *
 * Returns, per call, the parent index or -1. Cost O(calls × options × edges); callers bound the batch.
 */
export function assignInArrivalOrder(options: readonly (readonly number[])[], parentCount: number): Int32Array {
  const n = options.length;
  const match = new Int32Array(n).fill(-1);
  const owner = new Int32Array(parentCount).fill(-1);
  const fixed = new Uint8Array(n);
  const visited = new Uint8Array(parentCount);

  const augment = (call: number): boolean => {
    for (const p of options[call]!) {
      if (visited[p]) continue;
      visited[p] = 1;
      const holder = owner[p]!;
      if (holder < 0 || (!fixed[holder] && augment(holder))) {
        owner[p] = call;
        match[call] = p;
        return true;
      }
    }
    return false;
  };

  for (let i = 0; i < n; i++) {
    visited.fill(0);
    augment(i);
  }

  /** Another later call without a parent can take the one call i left (the displaced one then stays without). */
  const laterCallTakes = (i: number, displaced: number): boolean => {
    for (let k = i + 1; k < n; k++) {
      if (k === displaced || match[k]! >= 0) continue;
      visited.fill(0);
      if (augment(k)) return true;
    }
    return false;
  };

  // Each call in turn takes the earliest parent it can while the later calls keep as many parents.
  for (let i = 0; i < n; i++) {
    fixed[i] = 1;
    for (const p of options[i]!) {
      if (p === match[i]) break;
      const holder = owner[p]!;
      if (holder >= 0 && fixed[holder]) continue;
      const previous = match[i]!;
      if (previous >= 0) owner[previous] = -1;
      owner[p] = i;
      match[i] = p;
      if (holder < 0) break;
      match[holder] = -1;
      visited.fill(0);
      // The displaced call finds another parent (possibly the one i left); when i had none before,
      // the displaced call may stay without one: the count of matched calls is unchanged either way.
      if (augment(holder) || previous < 0) break;
      if (laterCallTakes(i, holder)) break;
      owner[p] = holder;
      match[holder] = p;
      match[i] = previous;
      if (previous >= 0) owner[previous] = i;
    }
  }
  return match;
}
