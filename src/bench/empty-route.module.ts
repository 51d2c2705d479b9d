import { Module } from '@nestjs/common';
import { EmptyRouteController } from './empty-route.controller.js';

/** Benchmarks only (BENCH_EMPTY_ROUTE=true): see EmptyRouteController. */
@Module({ controllers: [EmptyRouteController] })
export class EmptyRouteModule {}
