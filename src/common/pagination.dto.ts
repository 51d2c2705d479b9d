import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { QueryInteger } from './validation.js';

export const MAX_PER_PAGE = 500;
/** Keeps the SQL offset ((page - 1) × per_page, at most 5 × 10^8) an exact integer on every database. */
export const MAX_PAGE = 1_000_000;

export class PageQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, default: 1 })
  @IsOptional()
  @QueryInteger(1, MAX_PAGE)
  page?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_PER_PAGE, default: 50 })
  @IsOptional()
  @QueryInteger(1, MAX_PER_PAGE)
  per_page?: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  per_page: number;
}
