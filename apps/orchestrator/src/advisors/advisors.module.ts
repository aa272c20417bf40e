import { Module } from '@nestjs/common';
import { ADVISOR_METRIC_PROVIDERS, AdvisorMetrics } from './advisor-metrics';
import { QuotaService } from './quota.service';
import { ThreatScores } from './threat-scores';

/** The external advisors consulted on the request path: threat scores and quotas (both off without a URL). */
@Module({
  providers: [...ADVISOR_METRIC_PROVIDERS, AdvisorMetrics, ThreatScores, QuotaService],
  exports: [ThreatScores, QuotaService],
})
export class AdvisorsModule {}
