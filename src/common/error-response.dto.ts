import { ApiProperty } from '@nestjs/swagger';
import { ERROR_STATUS } from './errors.js';

export class FieldProblemDto {
  @ApiProperty({ example: 'priority' })
  field: string;

  @ApiProperty({ example: 'priority must be an integer between 1 and 1000000' })
  message: string;
}

/** The one error shape every endpoint answers with. */
export class ErrorResponseDto {
  @ApiProperty({ type: 'integer', minimum: 400, maximum: 599, example: 400 })
  statusCode: number;

  @ApiProperty({
    enum: Object.keys(ERROR_STATUS),
    example: 'VALIDATION_FAILED',
    description: 'Stable, machine-readable error code; each is explained in docs/errors.md',
  })
  code: string;

  @ApiProperty({ example: 'Request validation failed' })
  message: string;

  @ApiProperty({ type: [FieldProblemDto] })
  details: FieldProblemDto[];
}
