import type { Step, Timeline } from '../../tools/inspect/history';
import { peerOf } from '../../tools/inspect/participants';

const step = (fields: Partial<Step>): Step => ({
  kind: 'activity',
  name: 'releaseSeat',
  status: 'completed',
  startedAt: 0,
  attempts: 1,
  ...fields,
});

describe('who a purchase step talks to', () => {
  it('names the seat each release went to, not the seat the purchase held', () => {
    // A retried first task holds B19 and releases the lost task's other candidates: each to its own seat.
    const timeline = {
      input: { eventId: 'ev-1' },
      steps: [step({ kind: 'local-activity', name: 'reserveSeat', value: { seatId: 'B19' } })],
    } as unknown as Timeline;
    const released = ['D2', 'D12'].map((seatId) =>
      peerOf(step({ input: { eventId: 'ev-1', seatId, holdId: `p:${seatId}`, tombstone: true } }), timeline),
    );
    expect(released).toEqual(['seat-ev-1-D2', 'seat-ev-1-D12']);
    expect(peerOf(step({ name: 'confirmSeat' }), timeline)).toBe('seat-ev-1-B19');
  });
});
