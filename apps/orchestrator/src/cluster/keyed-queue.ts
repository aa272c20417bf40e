/**
 * Runs tasks one after another per key (the applies of one pool's changes from other instances), never two of one key
 * at once; tasks of different keys run side by side. A key's queue is forgotten once it is empty.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `task` after every earlier task of `key`; the promise settles when it ends and never rejects (`onError`). */
  run(key: string, task: () => Promise<void>, onError: (error: unknown) => void): Promise<void> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(task).catch(onError);
    this.tails.set(key, next);
    void next.finally(() => {
      if (this.tails.get(key) === next) this.tails.delete(key);
    });
    return next;
  }
}
