import { DEFAULT_LIST_LIMIT } from '../common/pagination.dto.js';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '../api-keys/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { AuditStore } from './audit-store.js';
import { AuditEntryDto, AuditPageDto, ListAuditQueryDto } from './dto/audit.dto.js';

@ApiTags('Audit')
@Controller('api/v1/audit')
@Auth('admin')
export class AuditController {
  constructor(private readonly audit: AuditStore) {}

  @Get()
  @ApiOperation({
    summary: 'Every change made with an API key or the keys command, newest first; filter by key, action, record and time',
    description:
      'Handlers (create, edit, archive, toggle, delete, secret reveal and rotation, automatic disabling), API keys (create, revoke), ' +
      'cache refreshes and manual retries. Each row: who, when, from where, and the record before and after with every secret masked.',
  })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED, INVALID_CURSOR' })
  async list(@Query() query: ListAuditQueryDto): Promise<AuditPageDto> {
    const page = await this.audit.list({
      actorKeyId: query.actor_key_id,
      action: query.action,
      targetType: query.target_type,
      targetId: query.target_id,
      from: query.from === undefined ? undefined : Date.parse(query.from),
      to: query.to === undefined ? undefined : Date.parse(query.to),
      cursor: query.cursor,
      limit: query.limit ?? DEFAULT_LIST_LIMIT,
    });
    return { items: page.items.map(AuditEntryDto.from), next_cursor: page.nextCursor, has_more: page.hasMore };
  }
}
