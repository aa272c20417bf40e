import { Module } from '@nestjs/common';
import { PipelineModule } from '../pipeline/pipeline.module';
import { RoutingModule } from '../routing/routing.module';
import { RouteController } from './route.controller';

/** `POST /route`. */
@Module({ imports: [RoutingModule, PipelineModule], providers: [RouteController] })
export class RouteModule {}
