import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { createGenerator } from 'ts-json-schema-generator';
import ts from 'typescript';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The committed module the document's answer schemas come from. */
export const ANSWERS_MODULE = join(ROOT, 'apps/orchestrator/src/openapi/answers.generated.ts');

const SRC = join(ROOT, 'apps/orchestrator/src');
const HTTP_DECORATORS = new Set(['Get', 'Post', 'Put', 'Delete', 'Patch', 'Head', 'Options', 'All']);
/** Return types the builder describes itself: a reply written by the handler (`void`), a file, the document. */
const NOT_JSON = new Set(['void', 'StreamableFile', 'OpenApiDocument']);
/** Types every operation shares (the error body) and that no handler returns. */
const SHARED_TYPES = ['ErrorBody', 'VerifyFailure'];

function decoratorName(decorator: ts.Decorator): string | undefined {
  const call = decorator.expression;
  return ts.isCallExpression(call) && ts.isIdentifier(call.expression) ? call.expression.text : undefined;
}

/** An answer declared inline (`(): { … }`), given the name `<Class><Method>Answer` in a generated alias. */
interface InlineAnswer {
  readonly name: string;
  readonly file: string;
  readonly type: string;
}

/**
 * The answer type name a handler declares: `Promise<T>` unwrapped; null when it is not a JSON answer. An inline type
 * is named `<Class><Method>Answer` and recorded in `inline`.
 */
function answerType(
  method: ts.MethodDeclaration,
  where: string,
  name: string,
  file: string,
  inline: InlineAnswer[],
): string | null {
  let type = method.type;
  if (type === undefined) throw new Error(`${where}: declare the return type (it is the answer schema)`);
  if (ts.isTypeReferenceNode(type) && type.typeName.getText() === 'Promise' && type.typeArguments?.length === 1) {
    type = type.typeArguments[0];
  }
  if (type.kind === ts.SyntaxKind.VoidKeyword) return null;
  if (ts.isTypeReferenceNode(type) && ts.isIdentifier(type.typeName) && type.typeArguments === undefined) {
    return NOT_JSON.has(type.typeName.text) ? null : type.typeName.text;
  }
  inline.push({ name, file, type: type.getText() });
  return name;
}

/** Every `@Controller` handler of the orchestrator (`Class.method`) and the name of the type it answers with. */
export function controllerAnswers(inline: InlineAnswer[] = []): Record<string, string | null> {
  const answers: Record<string, string | null> = {};
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter(
    (file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'),
  );
  for (const file of files.sort()) {
    const text = readFileSync(join(SRC, file), 'utf8');
    if (!text.includes('@Controller(')) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    for (const statement of source.statements) {
      if (!ts.isClassDeclaration(statement) || statement.name === undefined) continue;
      if (!(ts.getDecorators(statement) ?? []).some((d) => decoratorName(d) === 'Controller')) continue;
      for (const member of statement.members) {
        if (!ts.isMethodDeclaration(member) || !ts.isIdentifier(member.name)) continue;
        const decorators = ts.getDecorators(member) ?? [];
        if (!decorators.some((d) => HTTP_DECORATORS.has(decoratorName(d) ?? ''))) continue;
        const key = `${statement.name.text}.${member.name.text}`;
        const method = member.name.text;
        const name = `${statement.name.text}${method[0].toUpperCase()}${method.slice(1)}Answer`;
        answers[key] = answerType(member, `${file}: ${key}`, name, join(SRC, file), inline);
      }
    }
  }
  return answers;
}

/** OpenAPI 3.1 component references instead of draft-07 definitions; draft-07's `$schema` dropped. */
function toComponents(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toComponents);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === '$ref' && typeof item === 'string') {
      out.$ref = item.replace('#/definitions/', '#/components/schemas/');
    } else if (key === 'description' && item === 'Failed to correctly infer type') {
      throw new Error('a type of an answer has no JSON Schema form (give it a plain declared type)');
    } else out[key] = toComponents(item);
  }
  return out;
}

/**
 * The JSON Schemas of the answer types (and the shared error body), generated from their TypeScript declarations with
 * the declarations' JSDoc as descriptions. Names must be unique and valid component names.
 */
export function answerSchemas(names: readonly string[], inline: readonly InlineAnswer[] = []): Record<string, unknown> {
  // The generator bundles its own TypeScript, which resolves the `paths` aliases only with a base URL.
  const dir = mkdtempSync(join(tmpdir(), 'shieldx-openapi-'));
  inline.forEach((answer, index) => writeFileSync(join(dir, `inline-${index}.ts`), inlineAlias(answer)));
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({ extends: join(ROOT, 'apps/orchestrator/tsconfig.json'), compilerOptions: { baseUrl: ROOT } }),
  );
  try {
    const generator = createGenerator({
      tsconfig,
      // One absolute glob (the generator resolves it against the working directory): `/{a,b,c}/**`.
      path: `/{${[join(ROOT, 'apps/orchestrator/src'), join(ROOT, 'libs/*/src'), dir].map((p) => p.slice(1)).join(',')}}/**/!(*.spec).ts`,
      skipTypeCheck: true,
      expose: 'export',
      topRef: true,
      jsDoc: 'basic',
      additionalProperties: true,
      sortProps: true,
    });
    const schemas: Record<string, unknown> = {};
    for (const name of [...new Set([...names, ...SHARED_TYPES])].sort()) {
      const { definitions } = generator.createSchema(name) as { definitions: Record<string, unknown> };
      for (const [key, schema] of Object.entries(definitions)) {
        if (!/^[A-Za-z0-9._-]+$/.test(key)) throw new Error(`answer type ${name} needs a named type for '${key}'`);
        const converted = toComponents(schema);
        if (key in schemas && JSON.stringify(schemas[key]) !== JSON.stringify(converted)) {
          throw new Error(`two answer types are named ${key}`);
        }
        schemas[key] = converted;
      }
    }
    return Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A module declaring an inline answer as an exported alias, with its file's imports made absolute. */
function inlineAlias(answer: InlineAnswer): string {
  const source = ts.createSourceFile(answer.file, readFileSync(answer.file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const imports = source.statements.filter(ts.isImportDeclaration).map((declaration) => {
    const specifier = (declaration.moduleSpecifier as ts.StringLiteral).text;
    const absolute = specifier.startsWith('.') ? join(dirname(answer.file), specifier) : specifier;
    return declaration.getText().replace(/(['"])[^'"]+\1;?$/, `'${absolute}';`);
  });
  return `${imports.join('\n')}\n/** The answer of ${answer.name.replace(/Answer$/, '')}. */\nexport type ${answer.name} = ${answer.type};\n`;
}

/** Formats TypeScript as the repository's Prettier configuration does. */
export async function prettier(text: string, file: string): Promise<string> {
  return format(text, { ...(await resolveConfig(file)), filepath: file });
}

/** The text of {@link ANSWERS_MODULE} for the code as it is now. */
export async function answersModule(): Promise<string> {
  const inline: InlineAnswer[] = [];
  const operations = controllerAnswers(inline);
  const names = Object.values(operations).filter((name): name is string => name !== null);
  const schemas = answerSchemas(names, inline);
  const text = `// Generated from the controllers' return types by \`npm run openapi:generate\` (${relative(ROOT, fileURLToPath(import.meta.url))}): do not edit.
import type { JsonSchema } from './dto-schema';

/** The answer type of each controller handler (\`Class.method\`); null when the answer is not JSON. */
export const OPERATION_ANSWERS: Readonly<Record<string, string | null>> = ${JSON.stringify(operations)};

/** The JSON Schemas of the answer types and of what they refer to (OpenAPI 3.1 components). */
export const ANSWER_SCHEMAS: Readonly<Record<string, JsonSchema>> = ${JSON.stringify(schemas)};
`;
  return prettier(text, ANSWERS_MODULE);
}
