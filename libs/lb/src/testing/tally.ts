/** Counts how often each element of `items` occurs in `picks`, in the order of `items`. */
export function tally<T>(items: readonly T[], picks: Iterable<T>): number[] {
  const counts = items.map(() => 0);
  for (const p of picks) counts[items.indexOf(p)]++;
  return counts;
}
