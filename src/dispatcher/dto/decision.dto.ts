import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class DecisionCallDto {
  @ApiProperty() handler_id: number;
  @ApiProperty() handler_name: string;
  @ApiProperty({ enum: ['allowed', 'modified', 'forbidden', 'failed'], description: 'What this handler answered' })
  outcome: 'allowed' | 'modified' | 'forbidden' | 'failed';
  @ApiPropertyOptional({ enum: ['allow', 'forbid'], nullable: true, description: 'For a failure: what it counted as (on_failure)' })
  counted_as: 'allow' | 'forbid' | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) response_code: number | null;
  @ApiPropertyOptional({ nullable: true, type: String }) error: string | null;
  @ApiProperty() duration_ms: number;
  @ApiProperty({ description: 'The execution log row of this call (stage before)' }) log_id: number;
}

export class DecisionHandlerDto {
  @ApiProperty() id: number;
  @ApiProperty() name: string;
}

export class DecisionDto {
  @ApiProperty({ description: 'Whether the action may go ahead' }) allowed: boolean;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The data as changed by the handlers' })
  data: Record<string, unknown>;
  @ApiPropertyOptional({ nullable: true, type: String }) reason: string | null;
  @ApiPropertyOptional({ nullable: true, type: DecisionHandlerDto, description: 'The handler that forbade, if one did' })
  decided_by: DecisionHandlerDto | null;
  @ApiProperty({ type: [DecisionCallDto] }) calls: DecisionCallDto[];
  @ApiProperty() duration_ms: number;
}
