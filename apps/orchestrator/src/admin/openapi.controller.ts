import { Controller, Get, Inject, Injectable, UseGuards, type INestApplication } from '@nestjs/common';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { RawRoutes } from '../pipeline/raw-routes';
import { ClientIdentityService } from '../tls/client-identity.service';
import { AdminGuard } from './admin.guard';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi-document';

/**
 * The application's OpenAPI document, built on the first request and kept: `@nestjs/swagger` and the answer schemas
 * are loaded then, never at start-up (they cost several MB of memory).
 */
@Injectable()
export class OpenApiService {
  private app: INestApplication | undefined;
  private built: Promise<OpenApiDocument> | undefined;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly rawRoutes: RawRoutes,
  ) {}

  /** The application the document describes (set by the app factory once the application exists). */
  attach(app: INestApplication): void {
    this.app = app;
  }

  /** The document; a failed build is not kept, so the next request tries again. */
  document(): Promise<OpenApiDocument> {
    const app = this.app;
    if (app === undefined) return Promise.reject(new Error('the OpenAPI document has no application to describe'));
    this.built ??= buildOpenApiDocument({
      app,
      config: this.config,
      rawRoutes: this.rawRoutes.routes(),
      clientIdentities: app.get(ClientIdentityService, { strict: false }).enabled,
    }).catch((error: unknown) => {
      this.built = undefined;
      throw error;
    });
    return this.built;
  }
}

/** `GET /admin/openapi.json`: the OpenAPI 3.1 document of this gateway (docs/openapi.md), behind {@link AdminGuard}. */
@Controller('admin')
@UseGuards(AdminGuard)
export class OpenApiController {
  constructor(private readonly openApi: OpenApiService) {}

  @Get('openapi.json')
  document(): Promise<OpenApiDocument> {
    return this.openApi.document();
  }
}
