// Jest globalTeardown of the `integration` project: stops the control plane globalSetup started.
import { stopControlPlane } from './controlplane.js';

export default async function globalTeardown(): Promise<void> {
  const cp = globalThis.edgellmControlPlane;
  if (cp === undefined) return;
  globalThis.edgellmControlPlane = undefined;
  await stopControlPlane(cp);
}
