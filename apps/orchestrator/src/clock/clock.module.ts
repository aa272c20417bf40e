import { Global, Module } from '@nestjs/common';
import { systemClock } from '@shieldx/security';
import { CLOCK } from './clock';

/** The wall clock ({@link CLOCK}), provided once for every module; tests replace it with a fake one. */
@Global()
@Module({ providers: [{ provide: CLOCK, useValue: systemClock }], exports: [CLOCK] })
export class ClockModule {}
