import { getMetadataStorage, ValidationTypes } from '../validation/class-validator';

/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1), as plain data. */
export type JsonSchema = { [keyword: string]: unknown };

type Rule = (schema: JsonSchema, constraints: readonly unknown[]) => void;

const number = (value: unknown, rule: string): number => {
  if (typeof value !== 'number') throw new Error(`${rule}: the constraint is not a number`);
  return value;
};

/**
 * What each class-validator rule the gateway uses says, as JSON Schema keywords on the value it checks (the property,
 * or each item with `each: true`). A rule not listed here makes {@link dtoSchema} throw, so a body schema never
 * silently omits a rule.
 */
const RULES: Readonly<Record<string, Rule>> = {
  isString: (s) => void (s.type = 'string'),
  isInt: (s) => void (s.type = 'integer'),
  isNumber: (s) => void (s.type = 'number'),
  isArray: (s) => void (s.type = 'array'),
  isObject: (s) => void (s.type = 'object'),
  isIn: (s, [values]) => {
    if (!Array.isArray(values)) throw new Error('isIn: the constraint is not a list');
    s.enum = [...(values as unknown[])];
  },
  isIp: (s, [version]) => {
    s.type = 'string';
    if (version === '4' || version === 4) s.format = 'ipv4';
    else if (version === '6' || version === 6) s.format = 'ipv6';
    else s.description = 'An IPv4 or IPv6 address.';
  },
  isUrl: (s) => {
    s.type = 'string';
    s.format = 'uri';
  },
  matches: (s, [pattern, modifiers]) => {
    if (!(pattern instanceof RegExp) || modifiers !== undefined || !/^u?$/.test(pattern.flags)) {
      throw new Error('matches: only a RegExp without flags can be written as a JSON Schema pattern');
    }
    s.pattern = pattern.source;
  },
  isLength: (s, [min, max]) => {
    s.minLength = number(min, 'isLength');
    if (max !== undefined) s.maxLength = number(max, 'isLength');
  },
  maxLength: (s, [max]) => void (s.maxLength = number(max, 'maxLength')),
  min: (s, [min]) => void (s.minimum = number(min, 'min')),
  max: (s, [max]) => void (s.maximum = number(max, 'max')),
  arrayMinSize: (s, [min]) => void (s.minItems = number(min, 'arrayMinSize')),
  arrayMaxSize: (s, [max]) => void (s.maxItems = number(max, 'arrayMaxSize')),
  isSafePath: (s) => {
    s.type = 'string';
    s.description =
      'An absolute path with a canonical form: no query or fragment (?, #), no traversal (.., encoded or not), no path ' +
      'parameters (;), no encoded separators, no control characters.';
  },
};

/**
 * The JSON Schema of a request body DTO, derived from its class-validator decorators (the rules the body is checked
 * against): one property per decorated field, `required` unless `@IsOptional()`, unknown fields refused
 * (`additionalProperties: false`, as the validation pipe does). Rules with `each: true` describe the array's items.
 * Throws on a rule it cannot express, as {@link import('../validation/compiled-validator').CompiledValidator} does.
 */
export function dtoSchema(dto: abstract new () => object): JsonSchema {
  const storage = getMetadataStorage();
  const grouped = storage.groupByPropertyName(storage.getTargetValidationMetadatas(dto, '', true, false));
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, metadatas] of Object.entries(grouped)) {
    const property: JsonSchema = {};
    const items: JsonSchema = {};
    let optional = false;
    for (const meta of metadatas) {
      if (meta.type === ValidationTypes.CONDITIONAL_VALIDATION && meta.name === 'isOptional') {
        optional = true;
        continue;
      }
      if (meta.type === ValidationTypes.WHITELIST) continue;
      if (meta.type !== ValidationTypes.CUSTOM_VALIDATION) {
        throw new Error(`${dto.name}.${name}: validation type '${meta.type}' has no JSON Schema form`);
      }
      const rule = meta.name === undefined ? undefined : RULES[meta.name];
      if (rule === undefined) throw new Error(`${dto.name}.${name}: rule '${meta.name}' has no JSON Schema form`);
      rule(meta.each === true ? items : property, meta.constraints ?? []);
    }
    if (Object.keys(items).length > 0) property.items = items;
    properties[name] = property;
    if (!optional) required.push(name);
  }
  return { type: 'object', properties, required, additionalProperties: false };
}
