// `edgellm operator`: runs the operator until SIGTERM/SIGINT, then releases the Lease and stops.
import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import * as k8s from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { pino } from 'pino';
import { UserInputError } from '../../util/user-error.js';
import { LEASE_DEFAULTS } from '../../operator/kube/lease.js';
import { REQUEST_DEFAULTS } from '../../operator/requests/controller.js';
import { DISPATCH_DEFAULTS } from '../../operator/requests/dispatch.js';
import { Manager, OPERATOR_DEFAULTS, type OpenAiEndpointOptions } from '../../operator/manager.js';
import { openAiDefaultsSchema, type OpenAiDefaults } from '../../operator/openai/defaults.js';
import { OPENAI_SERVER_DEFAULTS } from '../../operator/openai/server.js';
import { parseWith } from '../../util/validation.js';
import {
  addLlmPodFlags,
  edgeNodesFromNodesOption,
  llmPodOptions,
  type LlmPodFlags,
} from './operator-llm-pods.js';

interface OperatorFlags extends LlmPodFlags {
  readonly kubeconfig?: string;
  readonly metricsListen: string;
  readonly leaderElect: boolean;
  readonly leaseNamespace?: string;
  readonly leaseName: string;
  readonly leaseDurationSeconds: string;
  readonly logLevel: string;
  readonly maxStatusOutputChars: string;
  readonly maxPendingPerNode: string;
  readonly runningStatusDelaySeconds: string;
  readonly watchNamespaces?: string;
  readonly agentNamespace?: string;
  readonly agentServerName?: string;
  readonly openaiListen?: string;
  readonly openaiAdvertise?: string;
  readonly openaiApiKeysSecret?: string;
  readonly openaiTlsCert?: string;
  readonly openaiTlsKey?: string;
  readonly openaiDefaults?: string;
  readonly openaiMaxPending: string;
  readonly openaiRateLimit: string;
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/;

/** The --openai-* flags as the manager's endpoint options (undefined without --openai-listen). */
async function openAiOptions(flags: OperatorFlags): Promise<OpenAiEndpointOptions | undefined> {
  if (flags.openaiListen === undefined) return undefined;
  if (!HOST_PORT.test(flags.openaiListen))
    throw new UserInputError(`--openai-listen must be host:port, got ${flags.openaiListen}`);
  const port = flags.openaiListen.slice(flags.openaiListen.lastIndexOf(':') + 1);
  const advertise = flags.openaiAdvertise ?? `${process.env['POD_IP'] ?? '127.0.0.1'}:${port}`;
  if (!HOST_PORT.test(advertise))
    throw new UserInputError(`--openai-advertise must be host:port, got ${advertise}`);
  if ((flags.openaiTlsCert === undefined) !== (flags.openaiTlsKey === undefined))
    throw new UserInputError('--openai-tls-cert and --openai-tls-key go together');
  const maxPending = Number(flags.openaiMaxPending);
  if (!Number.isInteger(maxPending) || maxPending < 1)
    throw new UserInputError(
      `--openai-max-pending must be a positive integer, got ${flags.openaiMaxPending}`,
    );
  const rate = Number(flags.openaiRateLimit);
  if (!Number.isFinite(rate) || rate < 0)
    throw new UserInputError(
      `--openai-rate-limit must be a number >= 0 (0: none), got ${flags.openaiRateLimit}`,
    );
  let apiKeysSecret: { namespace: string; name: string } | undefined;
  if (flags.openaiApiKeysSecret !== undefined) {
    const [a, b] = flags.openaiApiKeysSecret.split('/', 2);
    apiKeysSecret =
      b === undefined
        ? {
            namespace: process.env['POD_NAMESPACE'] ?? OPERATOR_DEFAULTS.leaseNamespace,
            name: a ?? '',
          }
        : { namespace: a ?? '', name: b };
  }
  let defaults: OpenAiDefaults | undefined;
  if (flags.openaiDefaults !== undefined) {
    let text: string;
    try {
      text = await readFile(flags.openaiDefaults, 'utf8');
    } catch (error) {
      throw new UserInputError(
        `cannot read --openai-defaults ${flags.openaiDefaults}: ${(error as Error).message}`,
      );
    }
    defaults = parseWith(
      openAiDefaultsSchema,
      parseYaml(text),
      `--openai-defaults ${flags.openaiDefaults}`,
    );
  }
  return {
    listen: flags.openaiListen,
    advertise,
    maxPending,
    ratePerSecond: rate,
    ...(apiKeysSecret === undefined ? {} : { apiKeysSecret }),
    ...(defaults === undefined ? {} : { defaults }),
    ...(flags.openaiTlsCert === undefined || flags.openaiTlsKey === undefined
      ? {}
      : { tls: { certFile: flags.openaiTlsCert, keyFile: flags.openaiTlsKey } }),
  };
}

function parseBool(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UserInputError(`--leader-elect takes true or false, got ${value}`);
}

export function register(program: Command): void {
  const command = program
    .command('operator')
    .description(
      'Run the operator: EdgeNode and InferenceRequest controllers, DFTSP rounds per node, dispatch to agents',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig to use (default: in-cluster config in a pod, else $KUBECONFIG or ~/.kube/config)',
    )
    .option(
      '--metrics-listen <host:port>',
      '/metrics, /healthz and /readyz',
      OPERATOR_DEFAULTS.metricsListen,
    )
    .addOption(
      new Option('--leader-elect [bool]', 'only the Lease holder acts (true|false)')
        .default(true)
        .argParser(parseBool),
    )
    .option(
      '--lease-namespace <ns>',
      `namespace of the Lease (default: $POD_NAMESPACE or ${OPERATOR_DEFAULTS.leaseNamespace})`,
    )
    .option('--lease-name <name>', 'name of the Lease', OPERATOR_DEFAULTS.leaseName)
    .option(
      '--lease-duration-seconds <n>',
      'a standby takes over when the leader has not renewed for this long',
      String(LEASE_DEFAULTS.leaseDurationSeconds),
    )
    .option(
      '--watch-namespaces <ns,...>',
      'serve InferenceRequests of these namespaces only (comma-separated; default: all namespaces)',
    )
    .option(
      '--agent-namespace <ns>',
      'namespace of the agent pods that EdgeNode spec.agent.nodeName finds (default: all namespaces)',
    )
    .option(
      '--agent-server-name <name>',
      'DNS name in the certificates of the agent pods found by spec.agent.nodeName, which are dialled by pod IP (default: the pod IP must be in the certificate)',
    )
    .option(
      '--openai-listen <host:port>',
      'serve the OpenAI-compatible API (POST /v1/chat/completions, /v1/completions, GET /v1/models) here',
    )
    .option(
      '--openai-advertise <host:port>',
      'where the other replicas reach this endpoint (default: $POD_IP and the --openai-listen port)',
    )
    .option(
      '--openai-api-keys-secret <[ns/]name>',
      'Secret whose entries are the API keys (default namespace: $POD_NAMESPACE); without it the endpoint serves anyone',
    )
    .option('--openai-tls-cert <file>', 'serve the endpoint over HTTPS with this PEM certificate')
    .option('--openai-tls-key <file>', 'and this PEM key')
    .option(
      '--openai-defaults <file>',
      'YAML/JSON: latencyBudget and maxPerplexityIncrease of completions that state none, per model',
    )
    .option(
      '--openai-max-pending <n>',
      'completions waiting for a round at most; more get 429',
      String(OPENAI_SERVER_DEFAULTS.maxPending),
    )
    .option(
      '--openai-rate-limit <per-second>',
      'requests per second per API key (0: none; the Secret annotation edgellm.io/rate-limits sets one per key)',
      String(OPENAI_SERVER_DEFAULTS.ratePerSecond),
    )
    .option(
      '--max-status-output-chars <n>',
      'outputs longer than this go to a ConfigMap (a Secret when the prompt came from one) that the request owns',
      String(REQUEST_DEFAULTS.maxStatusOutputChars),
    )
    .option(
      '--max-pending-per-node <n>',
      'admission control: requests of a model that may wait per node serving it; more fail QueueFull',
      String(REQUEST_DEFAULTS.maxPendingPerNode),
    )
    .option(
      '--running-status-delay-seconds <s>',
      'a request is written Running once it has generated this long; shorter ones go from Scheduled to their outcome (0: at the first token)',
      String(DISPATCH_DEFAULTS.runningWriteDelayMs / 1000),
    );
  addLlmPodFlags(command);
  command
    .addOption(
      new Option('--log-level <level>', 'pino log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
        .default('info'),
    )
    .action(async (flags: OperatorFlags) => {
      const duration = Number(flags.leaseDurationSeconds);
      if (!Number.isFinite(duration) || duration < 2)
        throw new UserInputError(
          `--lease-duration-seconds must be a number >= 2, got ${flags.leaseDurationSeconds}`,
        );
      const maxOutput = Number(flags.maxStatusOutputChars);
      // The CRD bounds status.output at REQUEST_DEFAULTS.maxStatusOutputChars; a lower limit is fine.
      if (
        !Number.isInteger(maxOutput) ||
        maxOutput < 1 ||
        maxOutput > REQUEST_DEFAULTS.maxStatusOutputChars
      )
        throw new UserInputError(
          `--max-status-output-chars must be an integer from 1 to ${REQUEST_DEFAULTS.maxStatusOutputChars} (the CRD's bound on status.output), got ${flags.maxStatusOutputChars}`,
        );
      const runningDelay = Number(flags.runningStatusDelaySeconds);
      if (!Number.isFinite(runningDelay) || runningDelay < 0)
        throw new UserInputError(
          `--running-status-delay-seconds must be a number >= 0, got ${flags.runningStatusDelaySeconds}`,
        );
      const maxPending = Number(flags.maxPendingPerNode);
      if (!Number.isInteger(maxPending) || maxPending < 1)
        throw new UserInputError(
          `--max-pending-per-node must be an integer >= 1, got ${flags.maxPendingPerNode}`,
        );
      if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(flags.metricsListen))
        throw new UserInputError(`--metrics-listen must be host:port, got ${flags.metricsListen}`);
      const watchNamespaces = (flags.watchNamespaces ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '');
      for (const n of [...watchNamespaces, ...(flags.agentNamespace ?? 'x').split(',')])
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n) || n.length > 63)
          throw new UserInputError(`${n} is not a namespace name (RFC 1123 label)`);
      const openai = await openAiOptions(flags);
      const llmPods = await llmPodOptions(flags);
      const edgeNodesFromNodes = edgeNodesFromNodesOption(flags);
      const kubeConfig = new k8s.KubeConfig();
      if (flags.kubeconfig !== undefined) kubeConfig.loadFromFile(flags.kubeconfig);
      else kubeConfig.loadFromDefault();
      const log = pino({ name: 'edgellm-operator', level: flags.logLevel });
      const manager = new Manager({
        kubeConfig,
        log,
        metricsListen: flags.metricsListen,
        leaderElection: flags.leaderElect,
        leaseNamespace:
          flags.leaseNamespace ?? process.env['POD_NAMESPACE'] ?? OPERATOR_DEFAULTS.leaseNamespace,
        leaseName: flags.leaseName,
        leaseDurationSeconds: duration,
        maxStatusOutputChars: maxOutput,
        maxPendingPerNode: maxPending,
        runningWriteDelayMs: runningDelay * 1000,
        ...(watchNamespaces.length > 0 ? { watchNamespaces } : {}),
        ...(flags.agentNamespace === undefined ? {} : { agentNamespace: flags.agentNamespace }),
        ...(flags.agentServerName === undefined ? {} : { agentServerName: flags.agentServerName }),
        ...(openai === undefined ? {} : { openai }),
        ...(llmPods === undefined ? {} : { llmPods }),
        ...(edgeNodesFromNodes === undefined ? {} : { edgeNodesFromNodes }),
        ...(process.env['POD_NAME'] ? { identity: process.env['POD_NAME'] } : {}),
      });
      await manager.start();
      log.info({ identity: manager.identity, address: manager.address }, 'operator started');
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          log.info({ signal }, 'signal received');
          manager.stop().then(resolve, (err: unknown) => {
            log.error({ err }, 'stop failed');
            resolve();
          });
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      log.info('operator stopped');
    });
}
