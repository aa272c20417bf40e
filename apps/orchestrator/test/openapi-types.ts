import { join } from 'node:path';
import { prettier, ROOT } from './openapi-answers';

/** The committed TypeScript types of the admin UI, generated from the document's schemas. */
export const UI_TYPES_MODULE = join(ROOT, 'apps/admin-ui/app/lib/api-types.ts');

type Schema = Record<string, unknown>;

const KEYWORDS_IGNORED = new Set([
  'description',
  'title',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'default',
  'examples',
]);

const PROPERTY_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function comment(text: unknown, indent: string): string {
  return typeof text === 'string' && text !== '' ? `${indent}/** ${text.replace(/\*\//g, '*\\/')} */\n` : '';
}

/**
 * The TypeScript type of a JSON Schema of the document: `$ref`, `type` (one or a list), `enum`, `const`, `anyOf`,
 * `oneOf`, `allOf`, `properties`/`required`, `additionalProperties`, `items`. Throws on any other keyword, so a type is
 * never silently widened.
 */
export function typeOf(schema: Schema, indent = ''): string {
  for (const key of Object.keys(schema)) {
    if (
      !KEYWORDS_IGNORED.has(key) &&
      ![
        '$ref',
        'type',
        'enum',
        'const',
        'anyOf',
        'oneOf',
        'allOf',
        'properties',
        'required',
        'additionalProperties',
        'items',
      ].includes(key)
    ) {
      throw new Error(`the keyword '${key}' has no TypeScript form here`);
    }
  }
  if (typeof schema.$ref === 'string') return schema.$ref.replace('#/components/schemas/', '');
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (Array.isArray(schema.anyOf) || Array.isArray(schema.oneOf)) {
    return ((schema.anyOf ?? schema.oneOf) as Schema[]).map((item) => wrap(typeOf(item, indent))).join(' | ');
  }
  if (Array.isArray(schema.allOf))
    return (schema.allOf as Schema[]).map((item) => wrap(typeOf(item, indent))).join(' & ');
  const types = schema.type === undefined ? [] : [schema.type].flat();
  if (types.length > 1) return types.map((type) => wrap(typeOf({ ...schema, type }, indent))).join(' | ');
  const kind = typeof types[0] === 'string' ? types[0] : undefined;
  switch (kind) {
    case undefined:
      return schema.properties === undefined ? 'unknown' : objectType(schema, indent);
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return schema.items === undefined ? 'unknown[]' : `${wrap(typeOf(schema.items as Schema, indent))}[]`;
    case 'object':
      return objectType(schema, indent);
    default:
      throw new Error(`the type '${kind}' has no TypeScript form`);
  }
}

function wrap(type: string): string {
  return /^[A-Za-z0-9_$"'.-]+(\[\])*$/.test(type) || type.startsWith('{') ? type : `(${type})`;
}

function objectType(schema: Schema, indent: string): string {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required ?? []) as string[]);
  const extra = schema.additionalProperties;
  const inner = `${indent}  `;
  const lines = Object.entries(properties).map(([name, property]) => {
    const key = PROPERTY_NAME.test(name) ? name : JSON.stringify(name);
    return `${comment(property.description, inner)}${inner}${key}${required.has(name) ? '' : '?'}: ${typeOf(property, inner)};\n`;
  });
  if (extra !== undefined && extra !== false) {
    lines.push(`${inner}[key: string]: ${extra === true ? 'unknown' : typeOf(extra as Schema, inner)};\n`);
  } else if (lines.length === 0) return 'Record<string, unknown>';
  return `{\n${lines.join('')}${indent}}`;
}

/** The text of {@link UI_TYPES_MODULE}: one exported type per schema of the document's components. */
export async function uiTypesModule(document: { components: { schemas: Record<string, Schema> } }): Promise<string> {
  const parts = Object.entries(document.components.schemas).map(
    ([name, schema]) => `${comment(schema.description, '')}export type ${name} = ${typeOf(schema)};\n`,
  );
  const text =
    "// Generated from the orchestrator's OpenAPI document (GET /admin/openapi.json) by `npm run openapi:generate`\n" +
    '// (apps/orchestrator/test/openapi-types.ts): do not edit.\n\n' +
    parts.join('\n');
  return prettier(text, UI_TYPES_MODULE);
}
