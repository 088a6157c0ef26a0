import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { changesChannel } from '../../cache/changes';
import { waitForRedis, type RedisClient } from '../../cache/redis';

/** How long a first watcher waits for the subscriber connection before its request fails (503). */
const SUBSCRIBE_TIMEOUT_MS = 3_000;

/** Someone watching an event's changes (a server-sent-events stream). */
export interface ChangeWatcher {
  /** One message of the change feed, as published (JSON text). */
  message(raw: string): void;
  /** Messages may have been lost (the subscriber lost Redis for a while): load a new snapshot. */
  resync(): void;
  /** The app is closing: end the stream. */
  close(): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    changeFeed: ChangeFeed;
  }
}

/**
 * The cache's change feed for one API process: a single Redis subscriber connection (a duplicate of the
 * app's client, opened on first use), subscribed to the channel of each event someone watches while
 * anyone does, fanning every message out to that event's watchers. Nobody polls Temporal for changes.
 */
export class ChangeFeed {
  private subscriber?: Promise<RedisClient>;
  private readonly channels = new Map<string, { watchers: Set<ChangeWatcher>; ready: Promise<unknown> }>();

  constructor(private readonly redis: RedisClient) {}

  /** Starts delivering the event's changes to `watcher`; resolves (to its stop function) once subscribed. */
  async watch(eventId: string, watcher: ChangeWatcher): Promise<() => void> {
    const channel = changesChannel(eventId);
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { watchers: new Set(), ready: this.connect().then((sub) => sub.subscribe(channel)) };
      this.channels.set(channel, entry);
    }
    const subscription = entry;
    subscription.watchers.add(watcher);
    const stop = (): void => {
      if (!subscription.watchers.delete(watcher) || subscription.watchers.size > 0) return;
      if (this.channels.get(channel) !== subscription) return;
      this.channels.delete(channel);
      void this.subscriber?.then((sub) => sub.unsubscribe(channel)).catch(() => undefined);
    };
    try {
      await subscription.ready;
    } catch (err) {
      stop();
      throw err;
    }
    return stop;
  }

  /** Tells every watcher to end (the app is closing); they stop themselves. */
  closeWatchers(): void {
    for (const { watchers } of [...this.channels.values()])
      for (const watcher of [...watchers]) watcher.close();
  }

  async disconnect(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.channels.clear();
    (await subscriber?.catch(() => undefined))?.disconnect();
  }

  private connect(): Promise<RedisClient> {
    this.subscriber ??= (async () => {
      const sub = this.redis.duplicate();
      sub.on('error', () => undefined); // reconnects by itself; readiness shows it
      sub.on('message', (channel: string, message: string) => {
        for (const watcher of this.channels.get(channel)?.watchers ?? []) watcher.message(message);
      });
      let connectedBefore = false;
      sub.on('ready', () => {
        // ioredis subscribes again by itself after a reconnect; what was published meanwhile is lost.
        if (connectedBefore)
          for (const { watchers } of this.channels.values()) watchers.forEach((w) => w.resync());
        connectedBefore = true;
      });
      try {
        await waitForRedis(sub, SUBSCRIBE_TIMEOUT_MS);
      } catch (err) {
        sub.disconnect();
        throw err;
      }
      return sub;
    })();
    const attempt = this.subscriber;
    attempt.catch(() => {
      if (this.subscriber === attempt) this.subscriber = undefined; // the next watcher tries again
    });
    return attempt;
  }
}

/** The change feed as a decorator; open streams end before the server closes, the subscriber after. */
export default fp(
  async function changeFeed(app: FastifyInstance) {
    const feed = new ChangeFeed(app.redis);
    app.decorate('changeFeed', feed);
    app.addHook('preClose', async () => feed.closeWatchers());
    app.addHook('onClose', async () => feed.disconnect());
  },
  { name: 'change-feed', dependencies: ['infrastructure'] },
);
