import * as Entry from 'class-validator';
import { describe, expect, it } from 'vitest';
import * as Own from './class-validator';

class Probe {
  @Own.IsString()
  @Own.MaxLength(3)
  name!: unknown;
}

describe('class-validator', () => {
  it("exports class-validator's own decorators and registry, not copies", () => {
    expect(Own.IsUrl).toBe(Entry.IsUrl);
    expect(Own.Matches).toBe(Entry.Matches);
    expect(Own.ValidateBy).toBe(Entry.ValidateBy);
    expect(Own.getMetadataStorage()).toBe(Entry.getMetadataStorage());
    expect(Own.ValidationTypes).toBe(Entry.ValidationTypes);
  });

  it('validates as the entry module does', () => {
    for (const name of ['ab', 'abcd', 7]) {
      const probe = Object.assign(new Probe(), { name });
      const own = Own.validateSync(probe).map((error) => error.constraints);
      const entry = Entry.validateSync(probe).map((error) => error.constraints);
      expect(own).toEqual(entry);
    }
    expect(Own.validateSync(Object.assign(new Probe(), { name: 'abcd' }))[0]?.constraints).toHaveProperty('maxLength');
  });
});
