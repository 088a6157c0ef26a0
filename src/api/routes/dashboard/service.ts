/**
 * What the dashboard routes read, apart from HTTP: the events the cache knows, and one event's snapshot
 * (summary, seat map, failures by code, the chart's history) from the read-side cache.
 */
import type { Client } from '@temporalio/client';
import { readHistory } from '../../../cache/changes';
import type { PurchaseCache } from '../../../cache/purchase-cache';
import type { RedisClient } from '../../../cache/redis';
import type { SeatCache } from '../../../cache/seat-cache';
import { EVENT_WORKFLOW_TYPE } from '../../../entities/event/contract';
import { seatWorkflowId } from '../../../entities/seat/contract';
import type { DashboardSnapshot } from '../../schemas/dashboard';
import type { EventSummary } from '../../schemas/events';
import { readCache, type EventService } from '../events/service';

/** The `ticketdrop` command that shows one event's failures with one code (the view the link serves). */
export const failureCommand = (eventId: string): string =>
  `npx ticketdrop workflow list --failed --group-by error --event ${eventId} --error-contains {code}`;

const SEAT_PLACEHOLDER = '{seatId}';

export class DashboardService {
  constructor(
    private readonly deps: {
      client: Client;
      redis: RedisClient;
      seatCache: SeatCache;
      purchaseCache: PurchaseCache;
      events: EventService;
      temporalUiUrl: string;
    },
  ) {}

  /** Every event, from the cache (or, when the cache has lost the list, from the event entities). */
  async events(): Promise<EventSummary[]> {
    const ids = await readCache(() => this.deps.seatCache.eventIds());
    if (ids.length === 0) {
      const query = `WorkflowType = '${EVENT_WORKFLOW_TYPE}'`;
      for await (const wf of this.deps.client.workflow.list({ query }))
        ids.push(wf.workflowId.replace(/^event-/, ''));
    }
    const summaries = await Promise.all(ids.map((id) => this.deps.events.summary(id).catch(() => undefined)));
    const order = { 'on-sale': 0, scheduled: 1, 'sold-out': 2, closed: 3 };
    return summaries
      .filter((s): s is EventSummary => s !== undefined)
      .sort((a, b) => order[a.status] - order[b.status] || a.eventId.localeCompare(b.eventId));
  }

  async snapshot(eventId: string): Promise<DashboardSnapshot> {
    const { redis, events, purchaseCache } = this.deps;
    const [seconds, micros] = await readCache(() => redis.time());
    const at = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const [event, seats, failures, history] = await Promise.all([
      events.summary(eventId),
      events.seatMap(eventId),
      readCache(() => purchaseCache.failures(eventId)),
      readCache(() => readHistory(redis, eventId)),
    ]);
    return { at, event, seats, failures, history, links: this.links(eventId) };
  }

  private links(eventId: string): DashboardSnapshot['links'] {
    const namespace = this.deps.client.options.namespace;
    const [before, after] = seatWorkflowId(eventId, SEAT_PLACEHOLDER).split(SEAT_PLACEHOLDER);
    const workflow = `${encodeURIComponent(before)}${SEAT_PLACEHOLDER}${encodeURIComponent(after)}`;
    return {
      seatWorkflow: `${this.deps.temporalUiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${workflow}`,
      failureView: `/events/${encodeURIComponent(eventId)}/failures?code={code}&format=text`,
      failureCommand: failureCommand(eventId),
    };
  }
}
