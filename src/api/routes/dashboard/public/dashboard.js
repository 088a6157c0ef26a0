// @ts-check
/**
 * The live drop dashboard in the browser: plain JavaScript, no framework, no build step (type-checked by
 * `npm run typecheck` through the tsconfig beside it).
 *
 * It opens the event's change stream (server-sent events), then loads a snapshot from the read-side
 * cache and applies the changes after it. Changes only update the model; the page is painted at most
 * once per animation frame, so a burst of changes to the same seat costs one paint. Whenever the
 * stream (re)opens, or the server says changes were lost, it loads a fresh snapshot. Every string it
 * shows goes through textContent or an attribute, never through markup.
 */

/** @typedef {import('../../../../cache/changes').ChangeMessage} ChangeMessage */
/** @typedef {import('../../../schemas/dashboard').DashboardSnapshot} Snapshot */
/** @typedef {'available' | 'held' | 'sold'} SeatStatus */
/** @typedef {{ cell: HTMLElement, link: HTMLAnchorElement, status: SeatStatus, version: number, row: number, col: number }} SeatEntry */

(() => {
  const configElement = document.getElementById('dashboard-config');
  /** @type {{ eventId: string, snapshotUrl: string, changesUrl: string }} */
  const config = JSON.parse(configElement?.textContent ?? '{}');
  /** With `?measure` in the address, the page keeps each seat change's latency for the benchmark. */
  const measuring = new URLSearchParams(location.search).has('measure');

  const RECONNECT_MS = [1_000, 2_000, 5_000, 10_000];
  const MAX_BUFFERED_CHANGES = 20_000;
  const MAX_POINTS = 3_600;
  const SALES_WINDOW_S = 5;
  const ANNOUNCE_EVERY_S = 15;
  const SVG = 'http://www.w3.org/2000/svg';
  const STATUS_LABEL = {
    'on-sale': 'On sale',
    scheduled: 'Not on sale yet',
    'sold-out': 'Sold out',
    closed: 'Closed',
  };

  const element = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const grid = element('seat-map');
  const chart = element('chart');
  const connection = element('connection');
  const eventStatus = element('event-status');
  const failuresTable = /** @type {HTMLTableElement} */ (element('failures'));
  const noFailures = element('no-failures');
  const announce = element('announce');
  const chartSummary = element('chart-summary');
  /** @type {Map<string, HTMLElement>} */
  const counterElements = new Map(
    [...document.querySelectorAll('[data-counter]')].map((el) => [
      /** @type {HTMLElement} */ (el).dataset.counter ?? '',
      /** @type {HTMLElement} */ (el),
    ]),
  );

  // The model: what the page knows. `at` is the Redis time of the newest change applied to a part.
  /** @type {Map<string, SeatEntry>} */
  const seats = new Map();
  /** @type {SeatEntry[][]} */
  let rows = [];
  const counts = { at: 0, available: 0, held: 0, sold: 0 };
  const queue = { at: 0, joined: 0, admitted: 0, waiting: 0 };
  /** @type {Map<string, number>} */
  const failures = new Map();
  /** @type {{ sold: [number, number][], waiting: [number, number][] }} */
  let history = { sold: [], waiting: [] };
  let capacity = 0;
  /** @type {Snapshot['event']['status']} */
  let status = 'on-sale';
  /** @type {Snapshot['links'] | undefined} */
  let links;
  /** Redis time at the last snapshot, and when (performance.now) it arrived: the chart's clock. */
  let clock = { at: 0, received: 0 };

  // What the next frame paints.
  /** @type {Set<SeatEntry>} */
  const dirtySeats = new Set();
  let dirtyCounters = false;
  let dirtyFailures = false;
  /** @type {number[]} Redis timestamps of the seat changes waiting for the next frame (when measuring). */
  const pendingStamps = [];
  /** @type {number[]} ms from each seat change in Redis to the frame that painted it (when measuring). */
  const latencies = [];
  let frame = 0;

  // ---- painting -------------------------------------------------------------------------------------

  function schedulePaint() {
    if (!frame) frame = requestAnimationFrame(paint);
  }

  function paint() {
    frame = 0;
    for (const seat of dirtySeats) paintSeat(seat);
    dirtySeats.clear();
    if (dirtyCounters) paintCounters();
    if (dirtyFailures) paintFailures();
    dirtyCounters = dirtyFailures = false;
    if (pendingStamps.length > 0) {
      const now = performance.timeOrigin + performance.now();
      for (const t of pendingStamps) latencies.push(now - t);
      pendingStamps.length = 0;
    }
  }

  /** @param {SeatEntry} seat */
  function paintSeat(seat) {
    const id = seat.cell.dataset.seat ?? '';
    seat.cell.dataset.status = seat.status;
    seat.link.setAttribute(
      'aria-label',
      `Seat ${id}, ${seat.status}. Opens its workflow in the Temporal web UI.`,
    );
    seat.link.title = `${id}: ${seat.status}`;
  }

  /** @param {string} key @param {number | string} value */
  function setCounter(key, value) {
    const el = counterElements.get(key);
    if (el) el.textContent = typeof value === 'number' ? value.toLocaleString('en') : value;
  }

  function paintCounters() {
    setCounter('available', counts.available);
    setCounter('held', counts.held);
    setCounter('sold', counts.sold);
    setCounter('joined', queue.joined);
    setCounter('admitted', queue.admitted);
    setCounter('waiting', queue.waiting);
    const shown = counts.available === 0 && counts.held === 0 && status === 'on-sale' ? 'sold-out' : status;
    eventStatus.dataset.status = shown;
    eventStatus.textContent = STATUS_LABEL[shown];
  }

  function paintFailures() {
    const body = failuresTable.tBodies[0];
    const sorted = [...failures].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    body.replaceChildren(...sorted.map(([code, count]) => failureRow(code, count)));
    failuresTable.hidden = sorted.length === 0;
    noFailures.hidden = sorted.length > 0;
  }

  /** @param {string} code @param {number} count */
  function failureRow(code, count) {
    const row = document.createElement('tr');
    const codeCell = document.createElement('th');
    codeCell.scope = 'row';
    const link = document.createElement('a');
    link.href = (links?.failureView ?? '').replace('{code}', encodeURIComponent(code));
    link.textContent = code;
    link.setAttribute('aria-label', `${code}: list these failed purchases`);
    codeCell.append(link);
    const countCell = document.createElement('td');
    countCell.className = 'number';
    countCell.textContent = count.toLocaleString('en');
    const commandCell = document.createElement('td');
    const command = document.createElement('code');
    // Lines break between the command's words, never inside one (`--failed` stays whole).
    (links?.failureCommand ?? '')
      .replace('{code}', code)
      .split(' ')
      .forEach((word, i) => {
        const part = document.createElement('span');
        part.className = 'word';
        part.textContent = word;
        command.append(...(i > 0 ? [' ', part] : [part]));
      });
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.textContent = 'Copy';
    copy.setAttribute('aria-label', `Copy the command for ${code}`);
    copy.addEventListener('click', () => copyText(command, copy));
    commandCell.append(command, ' ', copy);
    row.append(codeCell, countCell, commandCell);
    return row;
  }

  /** @param {HTMLElement} source @param {HTMLButtonElement} button */
  function copyText(source, button) {
    const done = () => {
      button.textContent = 'Copied';
      setTimeout(() => (button.textContent = 'Copy'), 1_500);
    };
    const select = () => {
      const range = document.createRange();
      range.selectNodeContents(source);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
    };
    if (navigator.clipboard) navigator.clipboard.writeText(source.textContent ?? '').then(done, select);
    else select();
  }

  // ---- the seat map ---------------------------------------------------------------------------------

  /** @param {Snapshot['seats']} list */
  function buildSeatMap(list) {
    seats.clear();
    rows = [];
    /** @type {Map<string, Snapshot['seats']>} */
    const byRow = new Map();
    for (const seat of list) {
      const row = /^[A-Z]+/.exec(seat.seatId)?.[0] ?? '?';
      byRow.set(row, [...(byRow.get(row) ?? []), seat]);
    }
    let widest = 1;
    const rowElements = [...byRow].map(([label, rowSeats], r) => {
      widest = Math.max(widest, rowSeats.length);
      const rowElement = document.createElement('div');
      rowElement.className = 'seat-row';
      rowElement.setAttribute('role', 'row');
      const header = document.createElement('div');
      header.className = 'row-label';
      header.setAttribute('role', 'rowheader');
      header.textContent = label;
      rowElement.append(header);
      rows.push(
        rowSeats.map((seat, c) => {
          const cell = document.createElement('div');
          cell.className = 'seat';
          cell.setAttribute('role', 'gridcell');
          cell.dataset.seat = seat.seatId;
          const link = document.createElement('a');
          link.href = (links?.seatWorkflow ?? '#').replace('{seatId}', encodeURIComponent(seat.seatId));
          link.target = '_blank';
          link.rel = 'noopener';
          link.tabIndex = r === 0 && c === 0 ? 0 : -1;
          link.dataset.row = String(r);
          link.dataset.col = String(c);
          cell.append(link);
          rowElement.append(cell);
          /** @type {SeatEntry} */
          const entry = { cell, link, status: seat.status, version: seat.version, row: r, col: c };
          seats.set(seat.seatId, entry);
          return entry;
        }),
      );
      return rowElement;
    });
    grid.style.setProperty('--seats-per-row', String(widest));
    grid.replaceChildren(...rowElements);
    grid.setAttribute('aria-busy', 'false');
  }

  /** One tab stop for the whole map; arrow keys, Home and End move within it. */
  grid.addEventListener('keydown', (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    if (!target.dataset.row) return;
    let r = Number(target.dataset.row);
    let c = Number(target.dataset.col);
    const key = event.key;
    if (key === 'ArrowRight') c++;
    else if (key === 'ArrowLeft') c--;
    else if (key === 'ArrowDown') r++;
    else if (key === 'ArrowUp') r--;
    else if (key === 'Home') c = 0;
    else if (key === 'End') c = Infinity;
    else return;
    event.preventDefault();
    r = Math.max(0, Math.min(rows.length - 1, r));
    c = Math.max(0, Math.min(rows[r].length - 1, c));
    const next = rows[r][c].link;
    target.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });

  // ---- the model ------------------------------------------------------------------------------------

  /** @param {'sold' | 'waiting'} series @param {number} t @param {number} value */
  function record(series, t, value) {
    const points = history[series];
    const second = Math.floor(t / 1000);
    const last = points[points.length - 1];
    if (last && last[0] === second) last[1] = value;
    else if (!last || last[0] < second) points.push([second, value]);
    if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
  }

  /**
   * Copies totals stamped `t` into `part` unless it holds newer ones; `point` goes to the chart's series.
   * @template {{ at: number }} P
   * @param {P} part @param {number} t @param {Omit<P, 'at'>} totals
   * @param {'sold' | 'waiting'} series @param {number} point
   */
  function applyTotals(part, t, totals, series, point) {
    if (t < part.at) return;
    Object.assign(part, totals, { at: t });
    record(series, t, point);
    dirtyCounters = true;
  }

  /** @param {{ t: number, available: number, held: number, sold: number }} change */
  const applyCounts = ({ t, available, held, sold }) =>
    applyTotals(counts, t, { available, held, sold }, 'sold', sold);

  /** @param {ChangeMessage} change */
  function apply(change) {
    switch (change.type) {
      case 'seat': {
        const seat = seats.get(change.seatId);
        if (seat && change.version > seat.version) {
          seat.status = change.status;
          seat.version = change.version;
          dirtySeats.add(seat);
          if (measuring) pendingStamps.push(change.t);
        }
        applyCounts(change);
        break;
      }
      case 'counts':
        applyCounts(change);
        break;
      case 'queue': {
        const { t, joined, admitted, waiting } = change;
        applyTotals(queue, t, { joined, admitted, waiting }, 'waiting', waiting);
        break;
      }
      case 'purchase':
        if (change.failure && change.failure.count > (failures.get(change.failure.code) ?? 0)) {
          failures.set(change.failure.code, change.failure.count);
          dirtyFailures = true;
        }
        break;
      case 'event':
        void loadSnapshot();
        return;
    }
    schedulePaint();
  }

  /** @param {Snapshot} snapshot */
  function applySnapshot(snapshot) {
    links = snapshot.links;
    capacity = snapshot.event.capacity;
    status = snapshot.event.status;
    const known = snapshot.seats.length === seats.size && snapshot.seats.every((s) => seats.has(s.seatId));
    if (!known) buildSeatMap(snapshot.seats);
    for (const { seatId, status: seatStatus, version } of snapshot.seats) {
      const seat = /** @type {SeatEntry} */ (seats.get(seatId));
      seat.status = seatStatus;
      seat.version = version;
      dirtySeats.add(seat);
    }
    history = { sold: snapshot.history.sold.slice(), waiting: snapshot.history.waiting.slice() };
    counts.at = queue.at = 0;
    applyCounts({ t: snapshot.at, ...snapshot.event });
    apply({ type: 'queue', t: snapshot.at, ...snapshot.event.queue });
    failures.clear();
    for (const { code, count } of snapshot.failures) failures.set(code, count);
    clock = { at: snapshot.at, received: performance.now() };
    dirtyCounters = dirtyFailures = true;
    schedulePaint();
    drawChart();
  }

  // ---- the change stream and the snapshot -----------------------------------------------------------

  /** @type {EventSource | undefined} */
  let source;
  /** Changes that arrived while a snapshot was loading: applied after it. */
  /** @type {ChangeMessage[] | undefined} */
  let buffered;
  let failedAttempts = 0;
  let loading = 0;

  /** @param {'connecting' | 'live' | 'reconnecting'} state @param {string} text */
  function setConnection(state, text) {
    connection.dataset.state = state;
    connection.textContent = text;
  }

  async function loadSnapshot() {
    const attempt = ++loading;
    buffered ??= [];
    try {
      const response = await fetch(config.snapshotUrl, { cache: 'no-store' });
      if (!response.ok) throw new Error(`snapshot: HTTP ${response.status}`);
      const snapshot = /** @type {Snapshot} */ (await response.json());
      if (attempt !== loading) return; // a newer load is under way
      applySnapshot(snapshot);
      const changes = buffered;
      buffered = undefined;
      for (const change of changes) apply(change);
      setConnection('live', 'Live');
    } catch {
      if (attempt !== loading) return;
      setConnection('reconnecting', 'Reconnecting…');
      setTimeout(() => attempt === loading && void loadSnapshot(), RECONNECT_MS[1]);
    }
  }

  function connect() {
    source?.close();
    const stream = new EventSource(config.changesUrl);
    source = stream;
    stream.onopen = () => {
      failedAttempts = 0;
      void loadSnapshot();
    };
    stream.onmessage = (event) => {
      const change = /** @type {ChangeMessage} */ (JSON.parse(event.data));
      if (!buffered) apply(change);
      else if (buffered.length < MAX_BUFFERED_CHANGES) buffered.push(change);
    };
    stream.addEventListener('resync', () => void loadSnapshot());
    stream.onerror = () => {
      setConnection('reconnecting', 'Reconnecting…');
      buffered ??= []; // whatever arrives after the reconnect waits for the new snapshot
      // A refused or failed HTTP answer closes an EventSource for good: open a new one after a pause.
      if (stream.readyState === EventSource.CLOSED && source === stream) {
        const delay = RECONNECT_MS[Math.min(failedAttempts++, RECONNECT_MS.length - 1)];
        setTimeout(connect, delay);
      }
    };
  }

  // ---- the chart, sales per second, the spoken summary (once a second) ------------------------------

  /** @type {{ at: number, sold: number }[]} */
  const soldSamples = [];
  let ticks = 0;
  let announced = '';

  function tick() {
    const now = performance.now();
    soldSamples.push({ at: now, sold: counts.sold });
    while (soldSamples.length > 0 && now - soldSamples[0].at > SALES_WINDOW_S * 1000 + 500)
      soldSamples.shift();
    const first = soldSamples[0];
    const elapsed = (now - first.at) / 1000;
    setCounter('salesPerSecond', elapsed >= 1 ? ((counts.sold - first.sold) / elapsed).toFixed(1) : '–');
    if (!buffered) drawChart();
    if (++ticks % ANNOUNCE_EVERY_S === 0) {
      const text = `${counts.sold} of ${capacity} seats sold, ${counts.held} held.`;
      if (text !== announced) announce.textContent = announced = text;
    }
  }

  /**
   * @param {string} name
   * @param {Record<string, string | number>} attributes
   * @param {string} [text]
   */
  function svg(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function drawChart() {
    // User units follow the drawn width, so the labels keep their size on a phone.
    const width = Math.round(Math.max(320, Math.min(800, chart.clientWidth || 640)));
    const height = 220;
    chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const box = { left: 48, right: width - 56, top: 12, bottom: height - 28 };
    const nowSecond = Math.floor((clock.at + performance.now() - clock.received) / 1000);
    const starts = [history.sold[0]?.[0], history.waiting[0]?.[0]].filter((s) => s !== undefined);
    const start = Math.min(nowSecond - 60, ...starts);
    const span = Math.max(1, nowSecond - start);
    const peakWaiting = Math.max(1, ...history.waiting.map((p) => p[1]));
    const soldMax = Math.max(1, capacity);
    const x = (/** @type {number} */ s) => box.left + ((s - start) / span) * (box.right - box.left);
    /** @param {[number, number][]} points @param {number} max */
    const line = (points, max) => {
      if (points.length === 0) return '';
      const step = Math.ceil(points.length / 600);
      const kept = points.filter((_, i) => i % step === 0 || i === points.length - 1);
      // The value holds until the next change, and the last one until now.
      const path = [...kept, [nowSecond, kept[kept.length - 1][1]]];
      return path
        .map(([s, v]) => `${x(s).toFixed(1)},${(box.bottom - (v / max) * (box.bottom - box.top)).toFixed(1)}`)
        .join(' ');
    };
    chart.replaceChildren(
      svg('line', { class: 'axis', x1: box.left, y1: box.bottom, x2: box.right, y2: box.bottom }),
      svg('line', { class: 'axis', x1: box.left, y1: box.top, x2: box.left, y2: box.bottom }),
      svg('line', { class: 'axis', x1: box.right, y1: box.top, x2: box.right, y2: box.bottom }),
      svg('text', { x: box.left - 6, y: box.bottom, 'text-anchor': 'end' }, '0'),
      svg('text', { x: box.left - 6, y: box.top + 10, 'text-anchor': 'end' }, soldMax.toLocaleString('en')),
      svg('text', { x: box.right + 6, y: box.bottom }, '0'),
      svg('text', { x: box.right + 6, y: box.top + 10 }, peakWaiting.toLocaleString('en')),
      svg('text', { x: box.left, y: height - 8 }, `${span} s ago`),
      svg('text', { x: box.right, y: height - 8, 'text-anchor': 'end' }, 'now'),
      svg('polyline', { class: 'series sold', points: line(history.sold, soldMax) }),
      svg('polyline', { class: 'series waiting', points: line(history.waiting, peakWaiting) }),
    );
    chartSummary.textContent =
      `Over the last ${span} s: ${counts.sold.toLocaleString('en')} of ${capacity.toLocaleString('en')} seats sold; ` +
      `${queue.waiting.toLocaleString('en')} fans waiting now, at most ${peakWaiting.toLocaleString('en')}.`;
  }

  // The benchmark reads (and empties) the latencies through this hook.
  if (measuring) Object.assign(window, { ticketdropLatencies: () => latencies.splice(0) });
  setInterval(tick, 1_000);
  setConnection('connecting', 'Connecting…');
  connect();
})();
