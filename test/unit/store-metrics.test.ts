import { parseStoreMetrics, storeFigures, type StoreCounters } from '../../loadtest/drop/store';

// An excerpt of the Temporal server's /metrics, as the dev server publishes it.
const METRICS = `# HELP persistence_latency persistence_latency histogram
# TYPE persistence_latency histogram
persistence_latency_bucket{namespace="default",operation="UpdateWorkflowExecution",service_name="history",le="0.001"} 10
persistence_latency_sum{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 2.5
persistence_latency_count{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 1000
persistence_latency_sum{namespace="default",operation="GetWorkflowExecution",service_name="history"} 1.5
persistence_latency_count{namespace="default",operation="GetWorkflowExecution",service_name="history"} 100
persistence_requests{namespace="default",operation="GetWorkflowExecution",service_name="history"} 100
visibility_persistence_latency_sum{operation="UpsertWorkflowExecution",service_name="history",visibility_plugin_name="sqlite"} 1
visibility_persistence_latency_count{operation="UpsertWorkflowExecution",service_name="history",visibility_plugin_name="sqlite"} 50
visibility_persistence_latency_sum{operation="GetWorkflowExecution",service_name="frontend",visibility_plugin_name="sqlite"} 0.5
visibility_persistence_latency_count{operation="GetWorkflowExecution",service_name="frontend",visibility_plugin_name="sqlite"} 10
persistence_latency_sum{service_name="history"} 0.5
persistence_latency_count{service_name="history"} 5
service_latency_sum{operation="StartWorkflowExecution",service_name="frontend"} 99
service_latency_count{operation="StartWorkflowExecution",service_name="frontend"} 99
`;

describe('the Temporal store figures of a drop', () => {
  it('sums calls and call time over every store and visibility operation, and nothing else', () => {
    expect(parseStoreMetrics(METRICS, 5)).toMatchObject({ calls: 1165, seconds: 6, at: 5 });
  });

  it('splits out the kinds of call that cost the store most, each from its own metric family', () => {
    const { kinds } = parseStoreMetrics(METRICS, 5);
    expect(kinds.workflowWrites).toEqual({ calls: 1000, seconds: 2.5 });
    // A visibility read of the same name is not a load of a workflow's state.
    expect(kinds.workflowLoads).toEqual({ calls: 100, seconds: 1.5 });
    expect(kinds.visibilityWrites).toEqual({ calls: 50, seconds: 1 });
    expect(kinds.currentRunLookups).toEqual({ calls: 0, seconds: 0 });
  });

  it('gives calls and call time per purchase, and the calls in flight on average, between two scrapes', () => {
    const before = parseStoreMetrics('', 0);
    const after: StoreCounters = { ...parseStoreMetrics(METRICS, 90_000), calls: 30_000, seconds: 135 };
    const figures = storeFigures(before, after, 600);
    expect(figures).toMatchObject({ callsPerUnit: 50, msPerUnit: 225, inFlight: 1.5 });
    expect(figures?.kinds?.workflowLoads).toEqual({ callsPerUnit: 0.2, msPerUnit: 3 });
  });

  it('has no figures without both scrapes', () => {
    expect(storeFigures(undefined, parseStoreMetrics('', 1), 1)).toBeUndefined();
  });
});
