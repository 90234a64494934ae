// Nobody gains what they may not: the chart's operator RBAC asked of the real API server's
// authorizer (SubjectAccessReview) for a user bound to exactly those rules, the way the chart
// binds them (the shared operator identity of the other tests holds their bindings too), and no
// prompt or output text in the operator's or the agent's logs at info level.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { bindOperatorRules } from '../harness/cluster.js';
import { finished, OperatorEnv, ready, unique } from '../support/operator-env.js';

let env: OperatorEnv;
let other: string;

beforeAll(async () => {
  env = await OperatorEnv.create('security');
  other = await env.cluster.newNamespace('elsewhere');
}, 120_000);

afterAll(async () => {
  await env.teardown();
});

interface Ask {
  readonly verb: string;
  readonly resource: string;
  readonly group?: string;
  readonly namespace?: string;
}

/** The API server's answer to "may `user` do this?". */
async function allowed(user: string, ask: Ask): Promise<boolean> {
  const review = await env.cluster.api(k8s.AuthorizationV1Api).createSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user,
        resourceAttributes: {
          verb: ask.verb,
          resource: ask.resource,
          group: ask.group ?? '',
          ...(ask.namespace === undefined ? {} : { namespace: ask.namespace }),
        },
      },
    },
  });
  return review.status?.allowed === true;
}

async function answers(user: string, asks: readonly Ask[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of asks)
    out.push(
      `${(await allowed(user, a)) ? 'allow' : 'deny'} ${a.verb} ${a.group ? `${a.resource}.${a.group}` : a.resource}${a.namespace === undefined ? ' (cluster)' : a.namespace === env.ns ? ' (own)' : ' (other)'}`,
    );
  return out;
}

describe('the operator’s RBAC (the chart’s rule files) as the API server decides it', () => {
  it('with watchNamespaces: Secrets and ConfigMaps only there, only get and create; nothing else', async () => {
    const user = unique('edgellm-operator-scoped');
    await bindOperatorRules(env.cluster.state, unique('sec-scoped'), env.ns, [env.ns], user);
    const own = env.ns;
    expect(
      await answers(user, [
        { verb: 'get', resource: 'secrets', namespace: own },
        { verb: 'create', resource: 'secrets', namespace: own },
        { verb: 'get', resource: 'secrets', namespace: other },
        { verb: 'list', resource: 'secrets', namespace: own },
        { verb: 'watch', resource: 'secrets', namespace: own },
        { verb: 'update', resource: 'secrets', namespace: own },
        { verb: 'delete', resource: 'configmaps', namespace: own },
        { verb: 'list', resource: 'secrets' },
        { verb: 'get', resource: 'configmaps', namespace: other },
        { verb: 'list', resource: 'inferencerequests', group: 'edgellm.io', namespace: other },
        { verb: 'create', resource: 'pods', namespace: own },
        { verb: 'delete', resource: 'pods', namespace: own },
        { verb: 'update', resource: 'pods', namespace: own },
        { verb: 'create', resource: 'pods', namespace: other },
        { verb: 'list', resource: 'models', group: 'edgellm.io' },
        { verb: 'patch', resource: 'models/status', group: 'edgellm.io' },
        { verb: 'update', resource: 'models', group: 'edgellm.io' },
        { verb: 'list', resource: 'nodes' },
        { verb: 'create', resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' },
        { verb: 'update', resource: 'edgenodes', group: 'edgellm.io' },
        { verb: 'list', resource: 'edgenodes', group: 'edgellm.io' },
        { verb: 'patch', resource: 'edgenodes/status', group: 'edgellm.io' },
      ]),
    ).toEqual([
      'allow get secrets (own)',
      'allow create secrets (own)',
      'deny get secrets (other)',
      'deny list secrets (own)',
      'deny watch secrets (own)',
      'deny update secrets (own)',
      'deny delete configmaps (own)',
      'deny list secrets (cluster)',
      'deny get configmaps (other)',
      'deny list inferencerequests.edgellm.io (other)',
      'allow create pods (own)',
      'allow delete pods (own)',
      'deny update pods (own)',
      'deny create pods (other)',
      'allow list models.edgellm.io (cluster)',
      'allow patch models/status.edgellm.io (cluster)',
      'deny update models.edgellm.io (cluster)',
      'deny list nodes (cluster)',
      'deny create clusterrolebindings.rbac.authorization.k8s.io (cluster)',
      'deny update edgenodes.edgellm.io (cluster)',
      'allow list edgenodes.edgellm.io (cluster)',
      'allow patch edgenodes/status.edgellm.io (cluster)',
    ]);
  });

  it('serving every namespace: get and create everywhere (documented), still never list, watch or update', async () => {
    const user = unique('edgellm-operator-all');
    await bindOperatorRules(env.cluster.state, unique('sec-all'), env.ns, [], user);
    expect(
      await answers(user, [
        { verb: 'get', resource: 'secrets', namespace: other },
        { verb: 'list', resource: 'secrets', namespace: other },
        { verb: 'watch', resource: 'configmaps' },
        { verb: 'update', resource: 'secrets', namespace: other },
        { verb: 'list', resource: 'pods', namespace: other },
        { verb: 'list', resource: 'pods', namespace: env.ns },
      ]),
    ).toEqual([
      'allow get secrets (other)',
      'deny list secrets (other)',
      'deny watch configmaps (cluster)',
      'deny update secrets (other)',
      'deny list pods (other)',
      'allow list pods (own)',
    ]);
  });
});

describe('logs', () => {
  it('no prompt or output text reaches the operator’s or the agent’s logs at info level', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const model = unique('tiny');
    const agent = await env.startAgent('logs', { [model]: env.tinyModelPath });
    const node = unique('edge-logs');
    await env.createNode(node, env.nodeSpec(agent.address, model));
    const manager = await env.startManager({ log: pino({ level: 'info' }, sink) });
    try {
      await env.waitForNode(node, ready);
      const secret = `zebra-${unique('quartz')}`;
      const name = unique('logs');
      await env.createRequest(name, {
        model,
        prompt: `Repeat the secret word ${secret} please`,
        maxTokens: 12,
        latencyBudget: '60s',
      });
      const r = await env.waitForRequest(name, finished);
      expect(r.status?.phase).toBe('Succeeded');
      const output = (r.status?.output ?? '').trim();
      expect(output.length).toBeGreaterThan(0);
      const all = [...lines, ...agent.lines.map((l) => JSON.stringify(l))].join('\n');
      expect(lines.length).toBeGreaterThan(0);
      expect(all).toContain(name); // the request is logged by name
      expect(all).not.toContain(secret);
      // The output of a random-weight model: check its longer words only (short ones occur anywhere).
      for (const word of output.split(/\s+/).filter((w) => w.length >= 6))
        expect([word, all.includes(word)]).toEqual([word, false]);
    } finally {
      await env.stopManager(manager);
    }
  });
});
