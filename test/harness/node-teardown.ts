// Jest global teardown of the `e2e` project: stops the node cluster node-setup.ts started.
// No imports: jest loads this file outside its module system.
export default async function globalTeardown(): Promise<void> {
  const stop = globalThis.edgellmStopNodeCluster;
  globalThis.edgellmStopNodeCluster = undefined;
  await stop?.();
}
