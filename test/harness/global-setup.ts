// Jest globalSetup of the `integration` project (jest.config.js): jest runs it only when at
// least one selected test lives under test/integration/, so unit-only runs never build or start
// the control plane. It starts one control plane for the whole run, installs the CRDs and
// tells the test workers where it is through EDGELLM_CONTROLPLANE_STATE.
import { installCrds } from './crds.js';
import { kubeConfigFor } from './cluster.js';
import {
  Identity,
  STATE_ENV,
  startControlPlane,
  stopByPid,
  type RunningControlPlane,
} from './controlplane.js';

declare global {
  var edgellmControlPlane: RunningControlPlane | undefined;
}

export default async function globalSetup(): Promise<void> {
  const cp = await startControlPlane();
  globalThis.edgellmControlPlane = cp;
  // A crash or an interrupted run skips globalTeardown; stop the process group on the way out.
  process.once('exit', () => {
    if (globalThis.edgellmControlPlane === cp) stopByPid(cp.state.pid, cp.dir);
  });
  process.env[STATE_ENV] = cp.statePath;
  await installCrds(kubeConfigFor(cp.state, Identity.admin));
}
