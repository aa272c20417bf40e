import { Module } from '@nestjs/common';
import { OutlierDetector } from './outlier-detector';
import { Upstreams } from './upstreams';

/** Connections to backends (one undici pool per backend origin) and the passive outlier detector. */
@Module({ providers: [Upstreams, OutlierDetector], exports: [Upstreams, OutlierDetector] })
export class UpstreamModule {}
