// Jest runs TypeScript as native ESM (node --experimental-vm-modules): the Kubernetes client
// and node-llama-cpp are ESM-only. ts-jest transpiles per file (isolatedModules); type errors
// are caught by `npm run typecheck`, which `make lint` runs.
//
// Five projects, by what a test needs:
// - `unit` (test/unit/, mirroring src/): pure logic, in process, no model, no network;
// - `component` (test/component/): real parts without Kubernetes: real GGUF models through
//   node-llama-cpp, real agent processes over gRPC;
// - `integration` (test/integration/): the real control plane; its global setup builds and starts
//   etcd + kube-apiserver (test/harness/). Jest runs a project's global setup only when a selected
//   test file belongs to that project, so `jest test/unit` neither needs Go nor pays for it;
// - `chaos` (test/chaos/): faults under load on the real control plane with real agent and
//   operator processes (`make chaos`);
// - `e2e` (test/e2e/): a real node (kubelet, containerd, kube-proxy, controller manager,
//   scheduler) and the images of `make images`; its global setup starts one node cluster per run
//   (test/harness/node-cluster.ts; needs root and the Debian packages of
//   scripts/ensure-node-packages.sh). `make test` leaves it out; `make e2e` runs it.
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testMatch: ['**/*.test.ts'],
};

/** @type {import('jest').Config} */
export default {
  // A global option: Jest ignores testTimeout inside `projects` entries. Generous because unit
  // tests load real GGUF models and the integration project talks to a real kube-apiserver on a
  // shared 2-core machine; a hung test still fails.
  testTimeout: 120_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      roots: ['<rootDir>/test/unit'],
    },
    {
      ...common,
      displayName: 'component',
      roots: ['<rootDir>/test/component'],
    },
    {
      ...common,
      displayName: 'integration',
      roots: ['<rootDir>/test/integration'],
      globalSetup: '<rootDir>/test/harness/controlplane.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'chaos',
      roots: ['<rootDir>/test/chaos'],
      // ConfigMaps and Secrets (where long outputs spill) in an etcd of their own with a 32 MiB
      // quota, which the full-store scenario fills while InferenceRequests stay writable; the
      // etcd of everything else (Leases, InferenceRequests) has a 256 MiB quota, which the
      // etcd-full scenario fills with the other one.
      globals: {
        edgellmControlPlaneArgs: [
          `--etcd-quota-bytes=${256 * 1024 * 1024}`,
          '--separate-etcd-for=/configmaps,/secrets',
          `--separate-etcd-quota-bytes=${32 * 1024 * 1024}`,
        ],
      },
      globalSetup: '<rootDir>/test/harness/controlplane.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      roots: ['<rootDir>/test/e2e'],
      globalSetup: '<rootDir>/test/harness/node-setup.ts',
      globalTeardown: '<rootDir>/test/harness/node-teardown.ts',
    },
  ],
};
