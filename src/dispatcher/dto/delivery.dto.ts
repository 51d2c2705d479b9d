import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsString, Length } from 'class-validator';
import { Omittable } from '../../common/validation.js';

export class RetryRangeDto {
  @ApiProperty({ format: 'date-time', description: 'Deliveries created at or after this time' })
  @IsISO8601({ strict: true })
  from: string;

  @ApiProperty({ format: 'date-time', description: 'Deliveries created at or before this time' })
  @IsISO8601({ strict: true })
  to: string;
}

export class RetryResultDto {
  @ApiProperty({ description: 'Deliveries queued again' }) queued: number;
}

export class TestHandlerDto {
  @ApiPropertyOptional({ description: "Event whose sample to send; default the handler's event (first match of a wildcard)" })
  @Omittable()
  @IsString()
  @Length(1, 100)
  event?: string;
}
