import { Injectable, type PipeTransform } from '@nestjs/common';
import { InvalidRequestError } from '../errors/errors';
import { CompiledValidator } from './compiled-validator';

type Constructor<T> = new () => T;

/**
 * Validates a body against its class-validator DTO through a {@link CompiledValidator} built once per DTO. Same
 * verdicts and messages as Nest's `ValidationPipe({ whitelist: true, forbidNonWhitelisted: true })`, at a fraction
 * of its cost; failures become a 400 `invalid_request` listing every bad field.
 */
@Injectable()
export class DtoValidationPipe<T extends object> implements PipeTransform<unknown, T> {
  private readonly validator: CompiledValidator<T>;

  constructor(dto: Constructor<T>) {
    this.validator = new CompiledValidator(dto);
  }

  transform(value: unknown): T {
    const result = this.validator.check(value);
    if (result.ok) return result.value;
    const message = result.problems.flatMap((p) => p.messages).join('; ');
    throw new InvalidRequestError('invalid_request', message, result.problems);
  }
}
