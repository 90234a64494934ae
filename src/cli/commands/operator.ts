// `edgellm operator`: runs the operator until SIGTERM/SIGINT, then releases the Lease and stops.
import { Option, type Command } from 'commander';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { UserInputError } from '../../util/user-error.js';
import { LEASE_DEFAULTS } from '../../operator/kube/lease.js';
import { REQUEST_DEFAULTS } from '../../operator/requests/controller.js';
import { Manager, OPERATOR_DEFAULTS } from '../../operator/manager.js';

interface OperatorFlags {
  readonly kubeconfig?: string;
  readonly metricsListen: string;
  readonly leaderElect: boolean;
  readonly leaseNamespace?: string;
  readonly leaseName: string;
  readonly leaseDurationSeconds: string;
  readonly logLevel: string;
  readonly maxStatusOutputChars: string;
  readonly watchNamespaces?: string;
  readonly agentNamespace?: string;
  readonly agentServerName?: string;
}

function parseBool(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UserInputError(`--leader-elect takes true or false, got ${value}`);
}

export function register(program: Command): void {
  program
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
      '--max-status-output-chars <n>',
      'outputs longer than this go to a ConfigMap (a Secret when the prompt came from one) that the request owns',
      String(REQUEST_DEFAULTS.maxStatusOutputChars),
    )
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
      if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(flags.metricsListen))
        throw new UserInputError(`--metrics-listen must be host:port, got ${flags.metricsListen}`);
      const watchNamespaces = (flags.watchNamespaces ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '');
      for (const n of [...watchNamespaces, ...(flags.agentNamespace ?? 'x').split(',')])
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n) || n.length > 63)
          throw new UserInputError(`${n} is not a namespace name (RFC 1123 label)`);
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
        ...(watchNamespaces.length > 0 ? { watchNamespaces } : {}),
        ...(flags.agentNamespace === undefined ? {} : { agentNamespace: flags.agentNamespace }),
        ...(flags.agentServerName === undefined ? {} : { agentServerName: flags.agentServerName }),
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
