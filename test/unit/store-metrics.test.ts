import { parseStoreMetrics, storeFigures } from '../../loadtest/drop/store';

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
service_latency_sum{operation="StartWorkflowExecution",service_name="frontend"} 99
service_latency_count{operation="StartWorkflowExecution",service_name="frontend"} 99
`;

describe('the Temporal store figures of a drop', () => {
  it('sums calls and call time over every store and visibility operation, and nothing else', () => {
    expect(parseStoreMetrics(METRICS, 5)).toEqual({ calls: 1150, seconds: 5, at: 5 });
  });

  it('gives calls per purchase and the calls in flight on average between two scrapes', () => {
    const before = { calls: 1_000, seconds: 10, at: 0 };
    const after = { calls: 31_000, seconds: 145, at: 90_000 };
    expect(storeFigures(before, after, 600)).toEqual({ callsPerUnit: 50, inFlight: 1.5 });
  });

  it('has no figures without both scrapes', () => {
    expect(storeFigures(undefined, { calls: 1, seconds: 1, at: 1 }, 1)).toBeUndefined();
  });
});
