export default async function globalTeardown(): Promise<void> {
  for (const service of globalThis.__TICKETDROP_SERVICES__ ?? []) await service.stop();
}
