/** The ceiling probe's only activity: does nothing, so all that is measured is Temporal's own cost. */
export function createCeilingActivities() {
  return {
    async ceilingNoop(step: number): Promise<number> {
      return step;
    },
  };
}

export type CeilingActivities = ReturnType<typeof createCeilingActivities>;
