import { describe, expect, it } from 'vitest';
import { withinWindow } from './clock';

describe(withinWindow.name, () => {
  it('is true from the opening instant up to, not including, its end', () => {
    expect(withinWindow(1000, 1000, 500)).toBe(true);
    expect(withinWindow(1499, 1000, 500)).toBe(true);
    expect(withinWindow(1500, 1000, 500)).toBe(false);
  });

  it('is false once the wall clock has stepped back before the opening', () => {
    expect(withinWindow(999, 1000, 500)).toBe(false);
    expect(withinWindow(1000 - 3_600_000, 1000, 500)).toBe(false);
  });
});
