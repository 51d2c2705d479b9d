import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';
import { MAX_CURSOR_LENGTH } from './list-cursor.js';
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

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 500;

/** The query of a list paged by cursor (src/common/list-cursor.ts): where the page starts and how many rows. */
export class CursorPageQueryDto {
  @ApiPropertyOptional({
    maxLength: MAX_CURSOR_LENGTH,
    description:
      'Where the page starts: the next_cursor of the previous page, unchanged. Absent: the newest rows. ' +
      'A cursor holds a position only: send the same filters with every page (other filters: INVALID_CURSOR).',
  })
  @IsOptional()
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: DEFAULT_LIST_LIMIT, description: 'Rows per page' })
  @IsOptional()
  @QueryInteger(1, MAX_LIST_LIMIT)
  limit?: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  per_page: number;
}
