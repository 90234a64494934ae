import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { createOperatorMetrics } from '../../../src/operator/metrics.js';
import { chartAlerts, dashboardPanels, metricNames } from '../../support/monitoring.js';

const alerts = chartAlerts();

/** Every series name the operator exports (histograms expand to _bucket/_sum/_count). */
async function exportedSeries(): Promise<Set<string>> {
  const registry = new Registry();
  createOperatorMetrics(registry);
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    }
  }
  return names;
}

describe('alert rules (charts/edgellm/files/alerts.yaml)', () => {
  it('has the seven alerts the chart documents', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'EdgellmAgentDown',
      'EdgellmOpenAiShedding',
      'EdgellmOpenAiSlowFirstToken',
      'EdgellmRequestsShed',
      'EdgellmRequestsStuckPending',
      'EdgellmSchedulerSlow',
      'EdgellmSlaAttainmentLow',
    ]);
  });

  it('rejects invalid PromQL (the parser check can fail)', () => {
    expect(() => metricNames('sum by (node (rate(x[5m]))')).toThrow(/syntax error/);
    expect(metricNames('rate(edgellm_request_sla_total{result="met"}[5m])')).toEqual([
      'edgellm_request_sla_total',
    ]);
  });

  it.each(alerts.map((a) => [a.alert, a] as const))(
    '%s parses and uses only exported metric names',
    async (_name, alert) => {
      const exported = await exportedSeries();
      const names = metricNames(alert.expr);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(exported).toContain(name);
      expect(alert.labels.severity).toMatch(/^(warning|critical)$/);
      expect(alert.annotations.summary.length).toBeGreaterThan(0);
      expect(alert.annotations.description.length).toBeGreaterThan(0);
    },
  );
});

const dashboard = { panels: dashboardPanels() };

describe('Grafana dashboard (deploy/dashboards/edgellm.json)', () => {
  it('has the panels the chart documents', () => {
    const titles = dashboard.panels.map((p) => p.title).join('\n');
    for (const topic of [
      'Throughput',
      'SLA attainment',
      'Queue by node',
      'Batch size',
      'Solver time',
      'Tree nodes',
      'Predicted vs measured',
      'Tokens/s per node',
      'OpenAI time to first token',
      'OpenAI time per output token',
      'OpenAI requests in flight',
      'OpenAI requests shed',
      'Requests shed by admission control',
    ])
      expect(titles).toContain(topic);
  });

  it.each(dashboard.panels.map((p) => [p.title, p] as const))(
    '%s: every query parses and uses only exported metric names',
    async (_title, panel) => {
      const exported = await exportedSeries();
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const target of panel.targets) {
        const names = metricNames(target.expr);
        expect(names.length).toBeGreaterThan(0);
        for (const name of names) expect(exported).toContain(name);
      }
    },
  );
});
