import { ApiProperty } from '@nestjs/swagger';

export class DecisionCallDto {
  @ApiProperty() handler_id: number;
  @ApiProperty() handler_name: string;
  @ApiProperty({ enum: ['allowed', 'modified', 'forbidden', 'failed'], description: 'What this handler answered' })
  outcome: 'allowed' | 'modified' | 'forbidden' | 'failed';
  @ApiProperty({ enum: ['allow', 'forbid', null], type: String, nullable: true, description: 'For a failure: what it counted as (on_failure); null otherwise' })
  counted_as: 'allow' | 'forbid' | null;
  @ApiProperty({ nullable: true, type: Number }) response_code: number | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
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
  @ApiProperty({ nullable: true, type: String }) reason: string | null;
  // Inline rather than a $ref: in OpenAPI 3.0 `nullable` next to a $ref (allOf) does not admit null.
  @ApiProperty({
    type: 'object',
    nullable: true,
    properties: { id: { type: 'integer', example: 3 }, name: { type: 'string', example: 'Credit check' } },
    required: ['id', 'name'],
    description: 'The handler that forbade, if one did; null when no handler decided',
  })
  decided_by: DecisionHandlerDto | null;
  @ApiProperty({ type: [DecisionCallDto] }) calls: DecisionCallDto[];
  @ApiProperty() duration_ms: number;
}
