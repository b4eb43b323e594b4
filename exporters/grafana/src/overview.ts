// The QSM cluster overview dashboard, typed against Grafana's published schema (@grafana/schema):
// tsc rejects a field the schema does not have or a value of the wrong type. build.ts writes it to
// dashboards/qsm-overview.json. Metric names: DESIGN.md "Metrics"; every expression here is run
// against a live Prometheus by harness/run/prometheus_test.cc.
import type { Dashboard, Panel, VariableModel } from '@grafana/schema';

const datasource = { type: 'prometheus', uid: '${datasource}' };

// A Prometheus query as Grafana stores it (a type literal: panels take Record<string, unknown>).
type PromQuery = {
  refId: string;
  datasource: typeof datasource;
  expr: string;
  legendFormat: string;
  range: boolean;
};

const selector = 'node=~"$node", role=~"$role"';

function query(refId: string, expr: string, legendFormat: string): PromQuery {
  return { refId, datasource, expr, legendFormat, range: true };
}

let nextId = 1;
// A time series panel; `unit` is one of Grafana's unit ids ("ops", "s", "bytes", ...).
function timeseries(title: string, unit: string, description: string, x: number, y: number,
                    targets: PromQuery[]): Panel {
  return {
    id: nextId++,
    type: 'timeseries',
    title,
    description,
    datasource,
    gridPos: { h: 8, w: 12, x, y },
    fieldConfig: {
      defaults: { unit, custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never' } },
      overrides: [],
    },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets,
  };
}

const latency = (q: string, label: string) =>
  `histogram_quantile(${q}, sum by (le) (rate(qsm_delivery_latency_seconds_bucket{${selector}}[$__rate_interval])))`;
const tokenRtt = (q: string) =>
  `histogram_quantile(${q}, sum by (level, le) (rate(qsm_token_rtt_seconds_bucket{${selector}}[$__rate_interval])))`;

const panels: Panel[] = [
  timeseries('Throughput', 'ops', 'Messages delivered and sent per second, per node (recording rules qsm:*_messages:rate5s).', 0, 0, [
    query('A', `sum by (node) (qsm:delivered_messages:rate5s{${selector}})`, 'delivered node {{node}}'),
    query('B', `sum by (node) (qsm:sent_messages:rate5s{${selector}}) > 0`, 'sent node {{node}}'),
  ]),
  timeseries('Delivery latency', 's', 'From the intended send time, over the selected nodes.', 12, 0, [
    query('A', latency('0.5', 'p50'), 'p50'),
    query('B', latency('0.99', 'p99'), 'p99'),
    query('C', latency('0.999', 'p99.9'), 'p99.9'),
  ]),
  timeseries('Token RTT', 's', 'Token round time at the ring leaders, per level (partition, region).', 0, 8, [
    query('A', tokenRtt('0.5'), 'p50 {{level}}'),
    query('B', tokenRtt('0.99'), 'p99 {{level}}'),
  ]),
  timeseries('Pending-ACK messages', 'short', 'Messages each sender holds until every member acknowledges them.', 12, 8, [
    query('A', `sum by (node) (qsm_pending_ack_messages{${selector}})`, 'node {{node}}'),
  ]),
  timeseries('Pending-ACK bytes', 'bytes', 'Payload bytes of the pending-ACK messages, per sender.', 0, 16, [
    query('A', `sum by (node) (qsm_pending_ack_bytes{${selector}})`, 'node {{node}}'),
  ]),
  timeseries('Cache bytes', 'bytes', "Bytes each node caches for its peers' recovery.", 12, 16, [
    query('A', `sum by (node) (qsm_cache_bytes{${selector}})`, 'node {{node}}'),
  ]),
  timeseries('Recovery traffic', 'pps', 'Recovery packets sent per second, by kind.', 0, 24, [
    query('A', `sum by (kind) (rate(qsm_recovery_packets_total{${selector}}[$__rate_interval]))`, '{{kind}}'),
  ]),
  timeseries('Drops', 'pps', 'Inbound datagrams dropped per second, by reason.', 12, 24, [
    query('A', `sum by (reason) (rate(qsm_packets_dropped_total{${selector}}[$__rate_interval]))`, '{{reason}}'),
  ]),
  timeseries('Core queue depths', 'short', "Events waiting in each node's core-thread queues.", 0, 32, [
    query('A', `max by (queue) (qsm_core_queue_depth{${selector}})`, '{{queue}}'),
  ]),
  timeseries('Timer lateness', 's', 'How late the core threads ran their timers.', 12, 32, [
    query('A', `histogram_quantile(0.99, sum by (le) (rate(qsm_timer_lateness_seconds_bucket{${selector}}[$__rate_interval])))`, 'p99'),
    query('B', `histogram_quantile(0.5, sum by (le) (rate(qsm_timer_lateness_seconds_bucket{${selector}}[$__rate_interval])))`, 'p50'),
  ]),
  timeseries('Cluster health (recording rules)', 's',
    'The whole cluster, from the recording rules the alerts use: latency and token RTT p99 over 10 s, pending-ACK growth (bytes/s) and 1 while some receiver delivers nothing although senders send.', 0, 40, [
    query('A', 'qsm:delivery_latency_seconds:p99_10s', 'latency p99'),
    query('B', 'qsm:token_rtt_seconds:p99_10s', 'token RTT p99 {{level}}'),
    query('C', 'qsm:pending_ack_bytes:deriv30s', 'pending-ACK bytes/s'),
    query('D', 'qsm:sending_without_delivery', 'sending without delivery'),
  ]),
  timeseries('Targets up', 'short', 'Whether Prometheus reaches each node, the GMS and the harness (1) or not (0): a crashed or paused process drops to 0.', 12, 40, [
    query('A', 'up{job=~"qsm-node|qsm-gms|harness"}', '{{job}} {{node}} {{instance}}'),
  ]),
  timeseries('GMS membership', 'short', 'What qsm-gms holds: registered nodes, live regions, groups with members.', 0, 48, [
    query('A', 'max(qsm_gms_nodes)', 'nodes'),
    query('B', 'max(qsm_gms_regions)', 'regions'),
    query('C', 'max(qsm_gms_groups)', 'groups'),
  ]),
  timeseries('GMS changes', 'ops', "qsm-gms's membership changes per second: commits, registrations, failures its detector found, departures.", 12, 48, [
    query('A', 'sum(rate(qsm_gms_commits_total[$__rate_interval]))', 'commits'),
    query('B', 'sum(rate(qsm_gms_registrations_total[$__rate_interval]))', 'registrations'),
    query('C', 'sum(rate(qsm_gms_failures_total[$__rate_interval]))', 'failures'),
    query('D', 'sum(rate(qsm_gms_departures_total[$__rate_interval]))', 'departures'),
  ]),
];

function labelVariable(name: string, label: string): VariableModel {
  return {
    name,
    label,
    type: 'query',
    datasource,
    query: { query: `label_values(qsm_messages_delivered_total, ${name})`, refId: name },
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: '.*',
    current: { text: 'All', value: '$__all' },
  };
}

// A Prometheus query is a DataQuery extended by the plugin; the annotation takes it as such.
// The gauges mark long windows; the counters' increase also marks windows shorter than a scrape
// interval (a 10 ms loss burst). The harness's metrics (qsm_harness_fault_*) cover every fault it
// applies; the nodes' own (qsm_fault_*) their in-process faults, on clusters whose harness is not
// scraped too (an Ansible cluster's Prometheus scrapes only the nodes and the GMS).
const faultWindows: PromQuery = query(
  'faults',
  'max by (type) (qsm_harness_fault_active > 0 or increase(qsm_harness_fault_windows_total[2s]) > 0' +
    ' or qsm_fault_active > 0 or increase(qsm_fault_windows_total[2s]) > 0)',
  '{{type}}');

export const overview: Dashboard = {
  uid: 'qsm-overview',
  title: 'QSM cluster overview',
  description: 'Throughput, latency, token RTT, pending-ACK memory, recovery, the core thread, the targets and the GMS, with fault windows.',
  tags: ['qsm'],
  editable: true,
  schemaVersion: 41,
  time: { from: 'now-15m', to: 'now' },
  refresh: '5s',
  graphTooltip: 1,
  annotations: {
    list: [
      {
        name: 'Fault windows',
        enable: true,
        iconColor: 'orange',
        datasource,
        // Shown on every time panel: a mark wherever a fault window is active, named by its type.
        target: faultWindows,
      },
    ],
  },
  templating: {
    list: [
      { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus' },
      labelVariable('node', 'Node'),
      labelVariable('role', 'Role'),
    ],
  },
  panels,
};
