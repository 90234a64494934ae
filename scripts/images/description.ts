// The image description, deploy/images/images.json: what goes into the operator and agent
// images. `make images` builds from it (rootfs.ts, oci.ts) and `make gen` renders the Dockerfile
// from it (dockerfile.ts), so the two cannot install different things.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DebianPackage {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

export interface ImageSpec {
  /** Repository name without registry or tag, e.g. edgellm/agent; the tag is the chart's appVersion. */
  readonly name: string;
  readonly description: string;
  /** Repository files and folders copied under appDir. */
  readonly files: readonly string[];
  /** Production dependencies left out of this image (with what only they need). */
  readonly npmRemove: readonly string[];
  /** Per npm scope, the only packages kept (the rest are other platforms' optional builds). */
  readonly keepOnlyInScope: Readonly<Record<string, readonly string[]>>;
  /** Paths under appDir removed after the install. */
  readonly removePaths: readonly string[];
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly ports: readonly number[];
}

export interface ImageDescription {
  readonly debian: {
    readonly suite: string;
    readonly architecture: string;
    readonly packages: readonly DebianPackage[];
    /** Paths removed from the extracted packages (tools and data Node does not need). */
    readonly remove: readonly string[];
    /** File names kept under usr/share/doc/<package>/ (the licences); the rest is removed. */
    readonly keepDocs: readonly string[];
  };
  readonly node: {
    readonly package: string;
    /** npm tarball integrity (sha512) by Node version. */
    readonly integrity: Readonly<Record<string, string>>;
    /** Files of the npm package (under package/) and where they go in the image. */
    readonly files: Readonly<Record<string, string>>;
  };
  readonly user: {
    readonly name: string;
    readonly uid: number;
    readonly gid: number;
    readonly home: string;
  };
  readonly appDir: string;
  readonly env: readonly string[];
  readonly images: Readonly<Record<ImageName, ImageSpec>>;
}

export const IMAGE_NAMES = ['operator', 'agent'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

export const DESCRIPTION_PATH = join('deploy', 'images', 'images.json');

export function loadDescription(repoRoot: string): ImageDescription {
  return JSON.parse(readFileSync(join(repoRoot, DESCRIPTION_PATH), 'utf8')) as ImageDescription;
}

/** The Node version scripts/ensure-node.sh pins (its default; the one pin of Node's version). */
export function pinnedNodeVersion(repoRoot: string): string {
  const script = readFileSync(join(repoRoot, 'scripts', 'ensure-node.sh'), 'utf8');
  const match = /^NODE_VERSION="\$\{EDGELLM_NODE_VERSION:-([0-9.]+)\}"$/m.exec(script);
  if (match?.[1] === undefined) {
    throw new Error(
      'scripts/ensure-node.sh no longer has the line NODE_VERSION="${EDGELLM_NODE_VERSION:-X.Y.Z}"',
    );
  }
  return match[1];
}

/** The image tag: the chart's appVersion, which the chart uses when no tag is set. */
export function appVersion(repoRoot: string): string {
  const chart = readFileSync(join(repoRoot, 'charts', 'edgellm', 'Chart.yaml'), 'utf8');
  const match = /^appVersion:\s*'?"?([^'"\s]+)/m.exec(chart);
  if (match?.[1] === undefined) throw new Error('charts/edgellm/Chart.yaml has no appVersion');
  return match[1];
}
