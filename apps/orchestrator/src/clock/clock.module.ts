import { Global, Module } from '@nestjs/common';
import { wallClock } from '@shieldx/security';
import { WALL_CLOCK } from './clock';

/** The wall clock ({@link WALL_CLOCK}), provided once for every module; tests replace it with a fake one. */
@Global()
@Module({ providers: [{ provide: WALL_CLOCK, useValue: wallClock }], exports: [WALL_CLOCK] })
export class ClockModule {}
