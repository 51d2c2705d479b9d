import { ApiProperty } from '@nestjs/swagger';

export class FieldProblemDto {
  @ApiProperty({ example: 'priority' })
  field: string;

  @ApiProperty({ example: 'priority must be an integer between 1 and 1000000' })
  message: string;
}

/** The one error shape every endpoint answers with. */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 })
  statusCode: number;

  @ApiProperty({ example: 'VALIDATION_FAILED', description: 'Stable, machine-readable error code' })
  code: string;

  @ApiProperty({ example: 'Request validation failed' })
  message: string;

  @ApiProperty({ type: [FieldProblemDto] })
  details: FieldProblemDto[];
}
