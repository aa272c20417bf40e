interface LruNode<K, V> {
  readonly key: K;
  value: V;
  /** The entry used just before this one (toward the least recently used end). */
  older: LruNode<K, V> | undefined;
  /** The entry used just after this one (toward the most recently used end). */
  newer: LruNode<K, V> | undefined;
}

/**
 * A map of at most `maxSize` entries that drops the least recently used one beyond it. A hit moves its entry by
 * relinking a list, not by deleting and re-adding the key: a `Map` in the old generation that is reordered on every
 * hit fills its hash table with deleted slots and rebuilds it every few operations, and V8 allocates the rebuilt
 * table in the old generation too, so a per-request cache hit became old-generation garbage and full collections
 * (docs/performance.md). Here the key's `Map` entry changes only when a key is added or dropped.
 */
export class LruMap<K, V> {
  private readonly nodes = new Map<K, LruNode<K, V>>();
  private oldest: LruNode<K, V> | undefined;
  private newest: LruNode<K, V> | undefined;

  constructor(readonly maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 1) {
      throw new Error(`LruMap: maxSize must be a positive integer, got ${String(maxSize)}`);
    }
  }

  /** Entries held. */
  get size(): number {
    return this.nodes.size;
  }

  /** The value of `key`, which becomes the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const node = this.nodes.get(key);
    if (node === undefined) return undefined;
    if (node !== this.newest) {
      this.unlink(node);
      this.append(node);
    }
    return node.value;
  }

  /** The value of `key` without counting it as used. */
  peek(key: K): V | undefined {
    return this.nodes.get(key)?.value;
  }

  has(key: K): boolean {
    return this.nodes.has(key);
  }

  /** Sets `key` as the most recently used entry; when that makes one too many, drops the least recently used. */
  set(key: K, value: V): void {
    const node = this.nodes.get(key);
    if (node !== undefined) {
      node.value = value;
      if (node !== this.newest) {
        this.unlink(node);
        this.append(node);
      }
      return;
    }
    if (this.nodes.size >= this.maxSize && this.oldest !== undefined) this.delete(this.oldest.key);
    const added: LruNode<K, V> = { key, value, older: undefined, newer: undefined };
    this.nodes.set(key, added);
    this.append(added);
  }

  /** Drops `key`; false when it was absent. */
  delete(key: K): boolean {
    const node = this.nodes.get(key);
    if (node === undefined) return false;
    this.nodes.delete(key);
    this.unlink(node);
    return true;
  }

  clear(): void {
    this.nodes.clear();
    this.oldest = undefined;
    this.newest = undefined;
  }

  /**
   * The entries, most recently used first. While iterating, the entry just visited may be deleted; any other change
   * (a use, an addition, another deletion, clear) leaves the iteration undefined.
   */
  *newestFirst(): IterableIterator<[K, V]> {
    let node = this.newest;
    while (node !== undefined) {
      const older = node.older;
      yield [node.key, node.value];
      node = older;
    }
  }

  private unlink(node: LruNode<K, V>): void {
    if (node.older === undefined) this.oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.newest = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
  }

  private append(node: LruNode<K, V>): void {
    node.older = this.newest;
    if (this.newest === undefined) this.oldest = node;
    else this.newest.newer = node;
    this.newest = node;
  }
}
