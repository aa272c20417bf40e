import { describe, expect, it } from 'vitest';
import { AllowAllPolicy } from './allow-all';
import { isPolicyAction } from './decision';

describe(AllowAllPolicy.name, () => {
  it('allows every request synchronously', () => {
    const decision = new AllowAllPolicy().decide();
    expect(decision).toEqual({ action: 'allow', reason: 'allow-all' });
    expect(Object.isFrozen(decision)).toBe(true);
    expect(new AllowAllPolicy().source).toBe('allow-all');
  });

  it('recognises exactly the four actions', () => {
    expect(['allow', 'deny', 'divert', 'tarpit'].every(isPolicyAction)).toBe(true);
    expect(isPolicyAction('permit')).toBe(false);
    expect(isPolicyAction(1)).toBe(false);
  });
});
