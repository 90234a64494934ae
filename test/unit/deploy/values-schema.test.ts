// charts/edgellm/values.schema.json is written by hand. Where it restates a rule that lives
// elsewhere, these tests hold it to the source: the agent config keys against the agent's own
// zod schema (src/agent/config.ts, converted with z.toJSONSchema), the alert names against
// files/alerts.yaml, and every key of values.yaml against the schema's properties. What the
// schema rejects is tested through helm itself in test/integration/chart.test.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { z } from 'zod';
import { agentConfigSchema, agentModelSchema } from '../../../src/agent/config.js';

type Schema = Record<string, unknown> & {
  properties?: Record<string, Schema>;
  items?: Schema;
  $ref?: string;
  additionalProperties?: boolean | Schema;
};

const values = parse(readFileSync('charts/edgellm/values.yaml', 'utf8')) as Record<string, unknown>;
const root = JSON.parse(readFileSync('charts/edgellm/values.schema.json', 'utf8')) as Schema & {
  definitions: Record<string, Schema>;
};

/** Follows a local `#/definitions/x` reference, keeping the sibling keys (description). */
function resolve(schema: Schema): Schema {
  if (schema.$ref === undefined) return schema;
  const name = schema.$ref.replace('#/definitions/', '');
  const target = root.definitions[name];
  if (target === undefined) throw new Error(`dangling $ref ${schema.$ref}`);
  const rest: Schema = { ...schema };
  delete rest.$ref;
  return { ...resolve(target), ...rest };
}

/** The keys that constrain a value: drops documentation (description) and zod's defaults. */
function rules(schema: Schema): Schema {
  const rest: Schema = Object.fromEntries(
    Object.entries(resolve(schema)).filter(
      ([k]) => !['description', 'default', '$schema'].includes(k),
    ),
  );
  if (rest.properties !== undefined)
    rest.properties = Object.fromEntries(
      Object.entries(rest.properties).map(([k, v]) => [k, rules(v)]),
    );
  if (rest.items !== undefined) rest.items = rules(rest.items);
  return rest;
}

function at(schema: Schema, path: string[]): Schema {
  let node = resolve(schema);
  for (const key of path) {
    const next = node.properties?.[key] ?? (key === '[]' ? node.items : undefined);
    if (next === undefined) throw new Error(`values.schema.json has no ${path.join('.')}`);
    node = resolve(next);
  }
  return node;
}

describe('charts/edgellm/values.schema.json', () => {
  it('states each model of agent.config.models exactly as the agent validates it', () => {
    const agent = rules(z.toJSONSchema(agentModelSchema, { io: 'input' }) as Schema);
    expect(rules(at(root, ['agent', 'config', 'models', '[]']))).toEqual(agent);
  });

  it('states every other key of agent.config with the agent’s own bounds', () => {
    const agent = z.toJSONSchema(agentConfigSchema, {
      io: 'input',
      unrepresentable: 'any',
    }) as Schema;
    const chart = at(root, ['agent', 'config']);
    const keys = Object.keys(chart.properties ?? {}).filter((k) => k !== 'models');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const fromAgent = agent.properties?.[key];
      expect(fromAgent).toBeDefined();
      expect([key, rules(at(chart, [key]))]).toEqual([key, rules(fromAgent ?? {})]);
    }
  });

  it('lists exactly the alerts of files/alerts.yaml as disabledAlerts choices', () => {
    const alerts = (
      parse(readFileSync('charts/edgellm/files/alerts.yaml', 'utf8')) as { alert: string }[]
    ).map((a) => a.alert);
    const choices = at(root, ['monitoring', 'prometheusRule', 'disabledAlerts', '[]'])['enum'];
    expect([...(choices as string[])].sort()).toEqual([...alerts].sort());
  });

  it('declares every key of values.yaml, and closes chart-owned objects (not global) to unknown keys', () => {
    const missing: string[] = [];
    const walk = (value: unknown, schema: Schema, path: string): void => {
      const node = resolve(schema);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
      // Kubernetes pass-through objects (resources, probes, securityContext, ...) are open.
      if (node.properties === undefined) return;
      // `global` is shared with the parent chart and its other subcharts: it must stay open.
      if (path !== 'global.') expect([path, node.additionalProperties]).toEqual([path, false]);
      for (const [key, child] of Object.entries(value)) {
        const childSchema = node.properties[key];
        if (childSchema === undefined) missing.push(`${path}${key}`);
        else walk(child, childSchema, `${path}${key}.`);
      }
    };
    walk(values, root, '');
    expect(missing).toEqual([]);
  });
});
