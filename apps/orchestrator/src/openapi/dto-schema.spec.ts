import { describe, expect, it } from 'vitest';
import { PoolEditDto } from '../admin/pool-edit.dto';
import { RouteRequestDto } from '../routing/route-request.dto';
import { IsString, ValidateBy } from '../validation/class-validator';
import { dtoSchema } from './dto-schema';

class UnknownRuleDto {
  @IsString()
  @ValidateBy({ name: 'isShiny', validator: { validate: () => true } })
  name!: string;
}

describe(dtoSchema.name, () => {
  it('writes the rules of a DTO as JSON Schema, optional fields not required and unknown fields refused', () => {
    const schema = dtoSchema(RouteRequestDto);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['service', 'tenant', 'scope', 'path']);
    expect(schema.properties).toMatchObject({
      service: { type: 'string', pattern: expect.any(String) },
      path: { type: 'string', maxLength: 2048 },
      hashKey: { type: 'string', minLength: 1, maxLength: 256 },
      candidates: { type: 'array', minItems: 1, maxItems: 32, items: { type: 'string', format: 'uri' } },
    });
  });

  it('describes each item of a list with rules given `each`', () => {
    expect(dtoSchema(PoolEditDto).properties).toMatchObject({
      urls: { type: 'array', minItems: 1, maxItems: 256, items: { type: 'string', maxLength: 2048 } },
      weights: { type: 'object' },
    });
  });

  it('refuses a rule it cannot write, so no rule is left out silently', () => {
    expect(() => dtoSchema(UnknownRuleDto)).toThrow("UnknownRuleDto.name: rule 'isShiny' has no JSON Schema form");
  });
});
