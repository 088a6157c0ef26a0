/**
 * The simulated providers' own durable store (SQLite): the payment ledger (charges, refunds, idempotency
 * keys), issued tickets, sent notifications, and runtime fault knobs. It belongs to the simulated
 * outside world, not to TicketDrop: tests and the auditor read it to check what really happened.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export type ChargeStatus = 'captured' | 'refunded' | 'declined';

export interface ChargeRecord {
  idempotencyKey: string;
  chargeId: string;
  purchaseId: string;
  /** The merchant's event reference (null on rows written before it was recorded). */
  eventId: string | null;
  fanId: string;
  amountCents: number;
  status: ChargeStatus;
  createdAt: number;
  refundedAt: number | null;
}

export interface TicketRecord {
  ticketId: string;
  purchaseId: string;
  eventId: string;
  seatId: string;
  fanId: string;
  qr: string;
  status: 'issued' | 'void';
}

export interface NotificationRecord {
  channel: 'email' | 'sms';
  purchaseId: string;
  recipient: string;
  sentAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS charges (
  idempotency_key TEXT PRIMARY KEY, charge_id TEXT NOT NULL, purchase_id TEXT NOT NULL, fan_id TEXT NOT NULL,
  amount_cents INTEGER NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL, refunded_at INTEGER,
  event_id TEXT);
CREATE INDEX IF NOT EXISTS charges_by_purchase ON charges (purchase_id);
CREATE TABLE IF NOT EXISTS tickets (
  ticket_id TEXT PRIMARY KEY, purchase_id TEXT NOT NULL, event_id TEXT NOT NULL, seat_id TEXT NOT NULL,
  fan_id TEXT NOT NULL, qr TEXT NOT NULL, status TEXT NOT NULL, issued_at INTEGER NOT NULL, voided_at INTEGER);
CREATE INDEX IF NOT EXISTS tickets_by_purchase ON tickets (purchase_id);
CREATE TABLE IF NOT EXISTS notifications (
  channel TEXT NOT NULL, purchase_id TEXT NOT NULL, recipient TEXT NOT NULL, sent_at INTEGER NOT NULL,
  PRIMARY KEY (channel, purchase_id));
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export class ProviderStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const columns = this.db.prepare('PRAGMA table_info(charges)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'event_id'))
      this.db.exec('ALTER TABLE charges ADD COLUMN event_id TEXT');
    this.db.exec('CREATE INDEX IF NOT EXISTS charges_by_event ON charges (event_id)');
  }

  close(): void {
    this.db.close();
  }

  getCharge(idempotencyKey: string): ChargeRecord | undefined {
    const row = this.db.prepare('SELECT * FROM charges WHERE idempotency_key = ?').get(idempotencyKey);
    return row ? toCharge(row as Record<string, unknown>) : undefined;
  }

  /** Records the outcome of a charge once; a second call with the same key keeps the first. */
  recordCharge(record: Omit<ChargeRecord, 'refundedAt'>): ChargeRecord {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO charges (idempotency_key, charge_id, purchase_id, event_id, fan_id, amount_cents, status, created_at)
         VALUES (@idempotencyKey, @chargeId, @purchaseId, @eventId, @fanId, @amountCents, @status, @createdAt)`,
      )
      .run(record);
    return this.getCharge(record.idempotencyKey)!;
  }

  /** Refunds a captured charge; refunding twice, or a charge that never happened, changes nothing. */
  refund(idempotencyKey: string, now = Date.now()): ChargeRecord | undefined {
    this.db
      .prepare(
        `UPDATE charges SET status = 'refunded', refunded_at = ? WHERE idempotency_key = ? AND status = 'captured'`,
      )
      .run(now, idempotencyKey);
    return this.getCharge(idempotencyKey);
  }

  chargesFor(purchaseId: string): ChargeRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM charges WHERE purchase_id = ? ORDER BY created_at')
      .all(purchaseId);
    return (rows as Record<string, unknown>[]).map(toCharge);
  }

  chargesForEvent(eventId: string): ChargeRecord[] {
    const rows = this.db.prepare('SELECT * FROM charges WHERE event_id = ? ORDER BY created_at').all(eventId);
    return (rows as Record<string, unknown>[]).map(toCharge);
  }

  ticketsForEvent(eventId: string): TicketRecord[] {
    const rows = this.db.prepare('SELECT * FROM tickets WHERE event_id = ? ORDER BY issued_at').all(eventId);
    return (rows as Record<string, unknown>[]).map(toTicket);
  }

  allCharges(): ChargeRecord[] {
    return (
      this.db.prepare('SELECT * FROM charges ORDER BY created_at').all() as Record<string, unknown>[]
    ).map(toCharge);
  }

  recordTicket(record: TicketRecord, now = Date.now()): TicketRecord {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO tickets (ticket_id, purchase_id, event_id, seat_id, fan_id, qr, status, issued_at)
         VALUES (@ticketId, @purchaseId, @eventId, @seatId, @fanId, @qr, @status, @issuedAt)`,
      )
      .run({ ...record, issuedAt: now });
    return this.getTicket(record.ticketId)!;
  }

  voidTicket(ticketId: string, now = Date.now()): void {
    this.db
      .prepare(`UPDATE tickets SET status = 'void', voided_at = ? WHERE ticket_id = ?`)
      .run(now, ticketId);
  }

  getTicket(ticketId: string): TicketRecord | undefined {
    const row = this.db.prepare('SELECT * FROM tickets WHERE ticket_id = ?').get(ticketId);
    return row ? toTicket(row as Record<string, unknown>) : undefined;
  }

  ticketsFor(purchaseId: string): TicketRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM tickets WHERE purchase_id = ? ORDER BY issued_at')
      .all(purchaseId);
    return (rows as Record<string, unknown>[]).map(toTicket);
  }

  recordNotification(record: NotificationRecord): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO notifications (channel, purchase_id, recipient, sent_at) VALUES (@channel, @purchaseId, @recipient, @sentAt)`,
      )
      .run(record);
  }

  notificationsFor(purchaseId: string): NotificationRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM notifications WHERE purchase_id = ? ORDER BY channel')
      .all(purchaseId);
    return (rows as Record<string, unknown>[]).map((row) => ({
      channel: row.channel as NotificationRecord['channel'],
      purchaseId: String(row.purchase_id),
      recipient: String(row.recipient),
      sentAt: Number(row.sent_at),
    }));
  }

  getSetting(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  setSetting(key: string, value: string | undefined): void {
    if (value === undefined) this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
    else
      this.db
        .prepare(
          'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
        )
        .run(key, value);
  }
}

function toCharge(row: Record<string, unknown>): ChargeRecord {
  return {
    idempotencyKey: String(row.idempotency_key),
    chargeId: String(row.charge_id),
    purchaseId: String(row.purchase_id),
    eventId: row.event_id === null || row.event_id === undefined ? null : String(row.event_id),
    fanId: String(row.fan_id),
    amountCents: Number(row.amount_cents),
    status: row.status as ChargeStatus,
    createdAt: Number(row.created_at),
    refundedAt: row.refunded_at === null ? null : Number(row.refunded_at),
  };
}

function toTicket(row: Record<string, unknown>): TicketRecord {
  return {
    ticketId: String(row.ticket_id),
    purchaseId: String(row.purchase_id),
    eventId: String(row.event_id),
    seatId: String(row.seat_id),
    fanId: String(row.fan_id),
    qr: String(row.qr),
    status: row.status as TicketRecord['status'],
  };
}

/** How long a process keeps a shared setting it read: a change reaches every worker within this time. */
export const SETTING_REFRESH_MS = 200;

/**
 * A setting every process sharing the store sees: defaults of this process, overridden by what was
 * stored under `key` (re-read at most every SETTING_REFRESH_MS).
 */
export class SharedSetting<T extends object> {
  private cached?: { at: number; value: T };

  constructor(
    private readonly store: ProviderStore,
    private readonly key: string,
    private readonly defaults: T,
  ) {}

  current(now = Date.now()): T {
    if (this.cached && now - this.cached.at < SETTING_REFRESH_MS) return this.cached.value;
    const raw = this.store.getSetting(this.key);
    const value = { ...this.defaults, ...(raw ? (JSON.parse(raw) as Partial<T>) : {}) };
    this.cached = { at: now, value };
    return value;
  }

  /** Overrides some values for every process sharing the store; `reset` returns to the defaults. */
  set(overrides: Partial<T>): void {
    this.store.setSetting(this.key, JSON.stringify(overrides));
    this.cached = undefined;
  }

  reset(): void {
    this.store.setSetting(this.key, undefined);
    this.cached = undefined;
  }
}
