import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SCOPES } from './scopes.js';
import { Auth, CurrentPrincipal, Principal } from './auth.decorators.js';
import { CallerDto } from './dto/api-key.dto.js';

@ApiTags('API keys')
@Controller('api/v1/auth')
export class AuthController {
  @Get('me')
  @Auth(...SCOPES)
  @ApiOperation({ summary: 'The calling key: its name and scopes (any valid key), so a client can tell what it may do' })
  @ApiOkResponse({ type: CallerDto })
  me(@CurrentPrincipal() principal: Principal): CallerDto {
    return { id: principal.keyId, name: principal.name, scopes: SCOPES.filter((scope) => principal.scopes.has(scope)) };
  }
}
