// Jest globalTeardown of the `integration` project: stops the control plane that the global
// setup (controlplane.ts) started. No imports: jest loads this file outside its module system.
export default async function globalTeardown(): Promise<void> {
  const stop = globalThis.edgellmStopControlPlane;
  globalThis.edgellmStopControlPlane = undefined;
  await stop?.();
}
