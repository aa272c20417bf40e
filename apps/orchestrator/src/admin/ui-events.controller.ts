import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../errors/errors';
import type { AdminSessionData } from '../events/security-event';
import { SecurityEvents } from '../events/security-events';
import { AdminGuard, adminActor, adminUser } from './admin.guard';

const EVENTS = new Set<AdminSessionData['event']>(['sign_in', 'sign_out', 'sign_in_refused', 'action_refused']);
/** Events that name a signed-in person, so they must come with that person's user assertion. */
const NEEDS_USER = new Set<AdminSessionData['event']>(['sign_in', 'sign_out', 'action_refused']);
const KEYS = new Set(['event', 'reason', 'claimed', 'method', 'path']);
const CLAIMED_KEYS = new Set(['sub', 'email', 'idp']);
const REASON = /^[a-z0-9_.:-]{1,64}$/;
const METHOD = /^(?:GET|HEAD|POST|PUT|DELETE|PATCH)$/;
const PATH = /^\/[\x21-\x7e]{0,499}$/;

function bad(message: string): InvalidRequestError {
  return new InvalidRequestError('invalid_body', message);
}

function text(value: unknown, key: string, pattern: RegExp): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) throw bad(`${key} must match ${pattern.source}`);
  return value;
}

/**
 * Validates a report of `POST /admin/ui-events`: `{event, reason?, claimed?: {sub?, email?, idp?}, method?, path?}`.
 * Every problem is a 400 `invalid_body`.
 */
export function parseUiEvent(body: unknown): Omit<AdminSessionData, 'actor'> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the body must be a JSON object');
  const raw = body as Record<string, unknown>;
  for (const key of Object.keys(raw)) if (!KEYS.has(key)) throw bad(`unknown member '${key}'`);
  const event = raw.event as AdminSessionData['event'];
  if (!EVENTS.has(event)) throw bad(`event must be one of ${[...EVENTS].join(', ')}`);
  const reason = text(raw.reason, 'reason', REASON);
  const method = text(raw.method, 'method', METHOD);
  const path = text(raw.path, 'path', PATH);
  let claimed: AdminSessionData['claimed'];
  if (raw.claimed !== undefined) {
    const given = raw.claimed;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) throw bad('claimed must be an object');
    const entries = Object.entries(given as Record<string, unknown>);
    for (const [key, value] of entries) {
      if (!CLAIMED_KEYS.has(key)) throw bad(`unknown member 'claimed.${key}'`);
      if (typeof value !== 'string' || value.length === 0 || value.length > 320) {
        throw bad(`claimed.${key} must be a string of 1-320 characters`);
      }
    }
    claimed = Object.fromEntries(entries);
  }
  return {
    event,
    ...(reason === undefined ? {} : { reason }),
    ...(claimed === undefined ? {} : { claimed }),
    ...(method === undefined ? {} : { method }),
    ...(path === undefined ? {} : { path }),
  };
}

/**
 * `POST /admin/ui-events`: the admin UI's server records sign-ins, sign-outs, refused sign-ins and actions it
 * refused as `admin.session` events in the audit ledger. A report about a signed-in person must carry their user
 * assertion (the event's `user` is then the verified person); a refused sign-in has none, and what the UI read from
 * the identity provider goes into `claimed`.
 */
@Controller('admin')
@UseGuards(AdminGuard)
export class UiEventsController {
  constructor(private readonly events: SecurityEvents) {}

  @Post('ui-events')
  @HttpCode(202)
  record(@Body() body: unknown, @Req() request: FastifyRequest): { recorded: true } {
    const report = parseUiEvent(body);
    if (NEEDS_USER.has(report.event) && adminUser(request) === undefined) {
      throw bad(`a ${report.event} report needs the person's user assertion`);
    }
    this.events.emit({
      type: 'admin.session',
      corrId: request.id,
      data: { ...report, actor: adminActor(request) },
    });
    return { recorded: true };
  }
}
