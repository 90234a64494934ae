// The chart's alerts and the Grafana dashboard's queries, and the metric names a PromQL expression
// selects (parsed with Prometheus' own lezer grammar): shared by the unit checks of the files and
// the e2e that asks a real Prometheus.
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { parse } from 'yaml';

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string };
}

export interface DashboardPanel {
  title: string;
  targets: { expr: string }[];
}

export function chartAlerts(): AlertRule[] {
  return parse(readFileSync('charts/edgellm/files/alerts.yaml', 'utf8')) as AlertRule[];
}

export function dashboardPanels(): DashboardPanel[] {
  return (
    JSON.parse(readFileSync('deploy/dashboards/edgellm.json', 'utf8')) as {
      panels: DashboardPanel[];
    }
  ).panels;
}

/** Parses a PromQL expression; throws on a syntax error; returns the metric names it selects. */
export function metricNames(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  const errors: number[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        names.push(expr.slice(node.from, node.to));
      }
    },
  });
  if (errors.length > 0)
    throw new Error(`PromQL syntax error at offset ${errors.join(', ')} in: ${expr}`);
  return names;
}
