import { describe, expect, it } from 'vitest';
import { heldTickObject, keepTickShape } from './tick-shape';

describe('keepTickShape', () => {
  it("holds one of process.nextTick's tick objects (Node still reports them to async hooks), and only one", () => {
    expect(heldTickObject()).toBeUndefined();
    keepTickShape();
    const held = heldTickObject() as { callback?: unknown } | undefined;
    expect(held).toBeDefined();
    expect(typeof held?.callback).toBe('function');
    keepTickShape();
    expect(heldTickObject()).toBe(held);
  });
});
