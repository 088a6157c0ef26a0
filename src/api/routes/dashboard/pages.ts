/**
 * The dashboard's HTML, rendered on the server. Every value goes through the `html` template tag, which
 * escapes it unless it is already markup made by the same tag: no string an event brings (its name, its
 * id) can become markup. The live parts are filled in by `public/dashboard.js` with textContent only.
 */
import type { EventSummary } from '../../schemas/events';

class Markup {
  constructor(readonly text: string) {}
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => ESCAPES[c]);

function render(value: unknown): string {
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/** A template whose values are escaped (markup made by `html` is kept as it is). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Markup {
  return new Markup(
    strings.reduce((out, text, i) => out + text + (i < values.length ? render(values[i]) : ''), ''),
  );
}

/** JSON for a `<script type="application/json">` element: nothing in it can close the element. */
function scriptJson(value: unknown): Markup {
  return new Markup(
    JSON.stringify(value).replace(
      /[<>&\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
  );
}

/** Only our own files run and load: a string that slipped through escaping still could not execute. */
export const PAGE_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const ASSETS_PREFIX = '/dashboard/assets';

function page(title: string, body: Markup, script?: string): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
        <link rel="stylesheet" href="${ASSETS_PREFIX}/dashboard.css" />
        ${script ? html`<script src="${ASSETS_PREFIX}/${script}" defer></script>` : ''}
      </head>
      <body>
        ${body}
      </body>
    </html> `.text;
}

const STATUS_LABEL: Record<EventSummary['status'], string> = {
  'on-sale': 'On sale',
  scheduled: 'Not on sale yet',
  'sold-out': 'Sold out',
  closed: 'Closed',
};

const number = (n: number): string => n.toLocaleString('en');

/** `GET /`: every event, each linking to its dashboard. */
export function eventListPage(events: EventSummary[]): string {
  const items = events.map(
    (e) =>
      html`<li class="event-card">
        <h2><a href="/events/${encodeURIComponent(e.eventId)}/dashboard">${e.name}</a></h2>
        <p class="muted">${e.eventId} · ${e.admission === 'queue' ? 'waiting room' : 'direct sale'}</p>
        <p>
          <span class="badge" data-status="${e.status}">${STATUS_LABEL[e.status]}</span> ${number(e.sold)} of
          ${number(e.capacity)} seats
          sold${e.admission === 'queue' ? html` · ${number(e.queue.waiting)} waiting` : ''}
        </p>
      </li>`,
  );
  return page(
    'TicketDrop live: events',
    html`<header class="top">
        <p class="brand">TicketDrop live</p>
        <h1>Events</h1>
      </header>
      <main>
        ${
          events.length > 0
            ? html`<ul class="event-list">
                ${items}
              </ul>`
            : html`<p>
                No events yet. Create one with <code>POST /events</code> (see
                <a href="/docs">the API docs</a>).
              </p>`
        }
      </main>`,
  );
}

export interface DashboardConfig {
  eventId: string;
  snapshotUrl: string;
  changesUrl: string;
}

const COUNTERS: [string, string][] = [
  ['available', 'Available'],
  ['held', 'Held'],
  ['sold', 'Sold'],
  ['salesPerSecond', 'Sales per second'],
];
const QUEUE_COUNTERS: [string, string][] = [
  ['joined', 'Joined'],
  ['admitted', 'Admitted'],
  ['waiting', 'Waiting'],
];

const counterList = (counters: [string, string][]): Markup[] =>
  counters.map(
    ([key, label]) =>
      html`<div class="counter">
        <dt>${label}</dt>
        <dd data-counter="${key}">–</dd>
      </div>`,
  );

/** `GET /events/:eventId/dashboard`: the frame the script fills from the snapshot and the change feed. */
export function dashboardPage(event: EventSummary, config: DashboardConfig): string {
  const legend = (['available', 'held', 'sold'] as const).map(
    (status) =>
      html`<li>
        <span class="seat swatch" data-status="${status}" aria-hidden="true"></span
        >${status[0].toUpperCase()}${status.slice(1)}
      </li>`,
  );
  return page(
    `${event.name} · TicketDrop live`,
    html`<a class="skip" href="#counters">Skip to the counters</a>
      <header class="top">
        <p class="brand"><a href="/">TicketDrop live</a></p>
        <h1 id="event-name">${event.name}</h1>
        <p class="meta">
          <span class="badge" id="event-status" data-status="${event.status}"
            >${STATUS_LABEL[event.status]}</span
          >
          <span class="muted">${event.eventId}</span>
          <span class="connection" id="connection" role="status" data-state="connecting">Connecting…</span>
        </p>
      </header>
      <main class="dashboard">
        <section class="now" id="counters" aria-labelledby="counters-title" tabindex="-1">
          <h2 id="counters-title">Now</h2>
          <dl class="counters">${counterList(COUNTERS)}</dl>
          ${
            event.admission === 'queue'
              ? html`<h3>Waiting room</h3>
                  <dl class="counters">${counterList(QUEUE_COUNTERS)}</dl>`
              : html`<p class="muted">Direct sale: no waiting room.</p>`
          }
          <p class="visually-hidden" id="announce" aria-live="polite"></p>
        </section>
        <section class="seats" aria-labelledby="seats-title">
          <h2 id="seats-title">Seat map</h2>
          <ul class="legend" aria-label="Legend">
            ${legend}
          </ul>
          <p class="muted" id="seat-help">
            Arrow keys move between seats; Enter opens the seat's workflow in the Temporal web UI.
          </p>
          <div
            class="seat-map"
            id="seat-map"
            role="grid"
            aria-labelledby="seats-title"
            aria-describedby="seat-help"
            aria-busy="true"
          ></div>
        </section>
        <section class="over-time" aria-labelledby="chart-title">
          <h2 id="chart-title">Sales and queue over time</h2>
          <figure class="chart">
            <svg
              id="chart"
              viewBox="0 0 640 220"
              role="img"
              aria-labelledby="chart-title chart-summary"
            ></svg>
            <figcaption>
              <ul class="chart-legend">
                <li><span class="line sold" aria-hidden="true"></span>Seats sold (left axis)</li>
                <li><span class="line waiting" aria-hidden="true"></span>Fans waiting (right axis)</li>
              </ul>
              <p id="chart-summary" class="muted"></p>
            </figcaption>
          </figure>
        </section>
        <section class="failures" aria-labelledby="failures-title">
          <h2 id="failures-title">Failures by code</h2>
          <p class="muted" id="no-failures">No failed purchases yet.</p>
          <div class="table-scroll">
            <table id="failures" hidden>
              <caption class="visually-hidden">
                Purchases that ended without a ticket, by failure code
              </caption>
              <thead>
                <tr>
                  <th scope="col">Code</th>
                  <th scope="col">Purchases</th>
                  <th scope="col">List them from the command line</th>
                </tr>
              </thead>
              <tbody></tbody>
            </table>
          </div>
        </section>
      </main>
      <script type="application/json" id="dashboard-config">
        ${scriptJson(config)}
      </script>`,
    'dashboard.js',
  );
}

/** The friendly page for an event that does not exist. */
export function notFoundPage(eventId: string): string {
  return messagePage(
    'Event not found',
    html`<p>
      There is no event <strong>${eventId}</strong>. It may have a different id, or it was never created.
    </p>`,
  );
}

/** The page for a dashboard that cannot be read right now (the cache or Temporal is away). */
export function unavailablePage(): string {
  return messagePage(
    'Dashboard unavailable',
    html`<p>The event cannot be read right now. Reload the page in a few seconds.</p>`,
  );
}

function messagePage(title: string, message: Markup): string {
  return page(
    `${title} · TicketDrop live`,
    html`<header class="top">
        <p class="brand"><a href="/">TicketDrop live</a></p>
        <h1>${title}</h1>
      </header>
      <main>
        ${message}
        <p><a href="/">See every event</a></p>
      </main>`,
  );
}
