/** Workflow ids: no two different (event, fan) or (event, seat) pairs may map to one workflow. */
import { seatWorkflowId } from '../../src/entities/seat/contract';
import { confirmationWorkflowId, purchaseWorkflowId } from '../../src/sagas/purchase/contract';

/** Ids as the API admits them, dashes and underscores where they make collisions likely. */
const IDS = ['a', 'b', 'c', 'a-b', 'b-c', 'a-b-c', 'a_b', 'a--b', 'b-', '1', '1-2', '2'];
const SEATS = ['A1', 'B1', 'A12', 'AA1', 'Z9'];

function collisions(pairs: [string, string][], id: (x: string, y: string) => string): string[] {
  const seen = new Map<string, string>();
  const clashes: string[] = [];
  for (const [x, y] of pairs) {
    const key = id(x, y);
    const pair = `(${x}, ${y})`;
    const other = seen.get(key);
    if (other && other !== pair) clashes.push(`${other} and ${pair} → ${key}`);
    seen.set(key, pair);
  }
  return clashes;
}

const pairsOf = (xs: string[], ys: string[]): [string, string][] =>
  xs.flatMap((x) => ys.map((y) => [x, y] as [string, string]));

describe('workflow ids', () => {
  it.each([
    ['purchase', purchaseWorkflowId],
    ['confirmation', confirmationWorkflowId],
  ])('a %s id belongs to one (event, fan) pair', (_, id) => {
    expect(collisions(pairsOf(IDS, IDS), id)).toEqual([]);
  });

  it('a seat id belongs to one (event, seat) pair', () => {
    expect(collisions(pairsOf(IDS, SEATS), seatWorkflowId)).toEqual([]);
  });

  it('stays readable: the event and the fan show in the id', () => {
    expect(purchaseWorkflowId('concert-1', 'ada')).toBe('purchase-concert-1:ada');
  });
});
