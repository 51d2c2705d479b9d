import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { IsCalendarDate, Omittable } from '../../common/validation.js';

export class RetryRangeDto {
  @ApiProperty({ format: 'date-time', description: 'Deliveries created at or after this time' })
  @IsCalendarDate() // IsISO8601 takes week and ordinal dates, which Date.parse reads as NaN
  from: string;

  @ApiProperty({ format: 'date-time', description: 'Deliveries created at or before this time' })
  @IsCalendarDate()
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
