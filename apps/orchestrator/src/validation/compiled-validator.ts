import { getMetadataStorage, validateSync, ValidationTypes, type ValidationArguments } from './class-validator';

/** One failed field: the property and the messages class-validator gives for it. */
export interface FieldProblem {
  readonly field: string;
  readonly messages: readonly string[];
}

/** Outcome of a check: the typed value, or the problems found. */
export type CheckResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: FieldProblem[] };

type Constructor<T> = new () => T;

interface PropertyCheck {
  readonly name: string;
  readonly optional: boolean;
  readonly checks: readonly {
    readonly each: boolean;
    readonly validate: (value: unknown, args: ValidationArguments) => unknown;
    readonly args: ValidationArguments;
  }[];
}

/**
 * A validator built once from a DTO's class-validator decorators that gives the same verdict as
 * `validateSync(plainToInstance(Dto, body), { whitelist: true, forbidNonWhitelisted: true })` without its per-call
 * cost (class instances, error trees, metadata look-ups). It calls class-validator's own constraint functions, so
 * every rule means exactly what its decorator says. On the rare failing input it asks class-validator itself for the
 * messages, so 4xx answers are word for word the stock pipe's.
 *
 * Supported metadata: custom (every `@IsX`/`ValidateBy`/`@Matches`/…, with `each`), conditional (`@IsOptional`),
 * `@IsDefined`. Anything else (nested, promise, groups, `validateIf`) throws at build time, so a DTO never silently
 * loses a rule.
 */
export class CompiledValidator<T extends object> {
  private readonly properties: PropertyCheck[] = [];
  private readonly allowed: ReadonlySet<string>;

  constructor(private readonly dto: Constructor<T>) {
    const storage = getMetadataStorage();
    const metadatas = storage.getTargetValidationMetadatas(dto, '', true, false);
    const grouped = storage.groupByPropertyName(metadatas);
    for (const [name, list] of Object.entries(grouped)) {
      let optional = false;
      const checks: PropertyCheck['checks'][number][] = [];
      for (const meta of list) {
        if (meta.groups !== undefined && meta.groups.length > 0)
          throw new Error(`${dto.name}.${name}: validation groups are not supported`);
        if (meta.validateIf !== undefined) throw new Error(`${dto.name}.${name}: validateIf is not supported`);
        switch (meta.type) {
          case ValidationTypes.CONDITIONAL_VALIDATION:
            if (meta.name !== 'isOptional')
              throw new Error(`${dto.name}.${name}: only @IsOptional conditions are supported`);
            optional = true;
            break;
          case ValidationTypes.CUSTOM_VALIDATION:
          case ValidationTypes.IS_DEFINED:
            for (const constraint of storage.getTargetValidatorConstraints(meta.constraintCls)) {
              if (constraint.async) throw new Error(`${dto.name}.${name}: async constraints are not supported`);
              const instance = constraint.instance as { validate: PropertyCheck['checks'][number]['validate'] };
              checks.push({
                each: meta.each === true,
                validate: instance.validate.bind(instance),
                args: {
                  targetName: dto.name,
                  property: name,
                  object: {},
                  value: undefined,
                  constraints: meta.constraints,
                },
              });
            }
            break;
          case ValidationTypes.WHITELIST:
            break;
          default:
            throw new Error(`${dto.name}.${name}: validation type '${meta.type}' is not supported`);
        }
      }
      this.properties.push({ name, optional, checks });
    }
    this.allowed = new Set(this.properties.map((p) => p.name));
  }

  /** Checks a parsed JSON body. The returned value is the body itself, typed, never a copy. */
  check(body: unknown): CheckResult<T> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return { ok: false, problems: [{ field: '', messages: ['the body must be a JSON object'] }] };
    }
    return this.passes(body as Record<string, unknown>)
      ? { ok: true, value: body as T }
      : { ok: false, problems: this.explain(body) };
  }

  private passes(body: Record<string, unknown>): boolean {
    for (const key in body) {
      if (!this.allowed.has(key)) return false;
    }
    for (const property of this.properties) {
      const value = body[property.name];
      if (property.optional && (value === undefined || value === null)) continue;
      for (const check of property.checks) {
        check.args.object = body;
        check.args.value = value;
        if (check.each && Array.isArray(value)) {
          for (const item of value) if (!check.validate(item, check.args)) return false;
        } else if (!check.validate(value, check.args)) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * The slow path, for failures only: class-validator's own errors, flattened. Unknown keys are named here, with
   * class-validator's words, and never copied onto the instance: a key such as `constructor` or `hasOwnProperty`
   * would shadow what class-validator reads from the object (its class, its own-property check) and lose the message.
   */
  private explain(body: object): FieldProblem[] {
    const instance = new this.dto() as Record<string, unknown>;
    const problems: FieldProblem[] = [];
    for (const [key, value] of Object.entries(body)) {
      if (this.allowed.has(key)) instance[key] = value;
      else problems.push({ field: key, messages: [`property ${key} should not exist`] });
    }
    for (const error of validateSync(instance, { whitelist: true, forbidNonWhitelisted: true })) {
      problems.push({ field: error.property, messages: Object.values(error.constraints ?? {}) });
    }
    return problems;
  }
}
