import { describe, expect, it } from 'vitest';
import { Emitter } from './emitter';

describe(Emitter.name, () => {
  it('delivers each event to every listener in subscription order, until it unsubscribes', () => {
    const emitter = new Emitter<number>(() => undefined);
    const heard: string[] = [];
    const offA = emitter.on((n) => heard.push(`a${n}`));
    emitter.on((n) => heard.push(`b${n}`));
    emitter.emit(1);
    offA();
    emitter.emit(2);
    expect(heard).toEqual(['a1', 'b1', 'b2']);
    expect(emitter.size).toBe(1);
  });

  it('reports a throwing listener and still delivers to the next one', () => {
    const errors: [unknown, number][] = [];
    const emitter = new Emitter<number>((error, event) => errors.push([error, event]));
    const heard: number[] = [];
    emitter.on(() => {
      throw new Error('boom');
    });
    emitter.on((n) => heard.push(n));
    expect(() => emitter.emit(7)).not.toThrow();
    expect(heard).toEqual([7]);
    expect(errors).toHaveLength(1);
    expect((errors[0][0] as Error).message).toBe('boom');
    expect(errors[0][1]).toBe(7);
  });

  it('lets a listener unsubscribe itself while an event is delivered, without skipping the others', () => {
    const emitter = new Emitter<number>(() => undefined);
    const heard: string[] = [];
    const off = emitter.on(() => {
      heard.push('once');
      off();
    });
    emitter.on(() => heard.push('always'));
    emitter.emit(1);
    emitter.emit(2);
    expect(heard).toEqual(['once', 'always', 'always']);
  });

  it('clear drops every listener', () => {
    const emitter = new Emitter<number>(() => undefined);
    let heard = 0;
    emitter.on(() => heard++);
    emitter.clear();
    emitter.emit(1);
    expect(heard).toBe(0);
  });
});
