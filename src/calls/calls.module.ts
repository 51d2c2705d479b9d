import { Module } from '@nestjs/common';
import { HttpExecutor } from './http-executor.js';
import { ScriptExecutor } from './script-executor.js';

/** Calls of handlers, HTTP and script: used by the dispatcher (queued deliveries, test sends) and by decisions. */
@Module({
  providers: [HttpExecutor, ScriptExecutor],
  exports: [HttpExecutor, ScriptExecutor],
})
export class CallsModule {}
