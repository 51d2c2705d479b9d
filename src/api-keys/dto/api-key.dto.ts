import { ApiProperty } from '@nestjs/swagger';
import { ArrayMinSize, ArrayUnique, IsArray, IsIn, IsString, Length } from 'class-validator';
import { SCOPES, Scope } from '../scopes.js';
import { ApiKeyEntity } from '../api-key.entity.js';
import { parseScopes } from '../scopes.js';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'billing-core events', minLength: 1, maxLength: 100 })
  @IsString()
  @Length(1, 100)
  name: string;

  @ApiProperty({ enum: SCOPES, isArray: true, minItems: 1, uniqueItems: true, example: ['events'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes: Scope[];
}

/** A key as listed: never the key itself, only its first characters. */
export class ApiKeyDto {
  @ApiProperty() id: number;
  @ApiProperty() name: string;
  @ApiProperty({ example: 'pk_Xq3k9aB', description: 'First characters of the key, to recognise it' }) key_prefix: string;
  @ApiProperty({ enum: SCOPES, isArray: true }) scopes: Scope[];
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_used_at: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at: string | null;

  static from(entity: ApiKeyEntity): ApiKeyDto {
    return {
      id: entity.id,
      name: entity.name,
      key_prefix: entity.keyPrefix,
      scopes: parseScopes(entity.scopes),
      created_at: new Date(entity.createdAt).toISOString(),
      last_used_at: entity.lastUsedAt === null ? null : new Date(entity.lastUsedAt).toISOString(),
      revoked_at: entity.revokedAt === null ? null : new Date(entity.revokedAt).toISOString(),
    };
  }
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The key. Shown only in this answer; store it now.' })
  key: string;
}

/** The key making the request, as far as a client needs to know it. */
export class CallerDto {
  @ApiProperty({ description: 'Id of the calling key' }) id: number;
  @ApiProperty({ example: 'operations console' }) name: string;
  @ApiProperty({ enum: SCOPES, isArray: true, example: ['read'] }) scopes: Scope[];
}
