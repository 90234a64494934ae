// Renders deploy/docker/Dockerfile from the image description. Its `rootfs` stage runs
// `make image-rootfs`, the very step `make images` runs, on the same pinned inputs; the final
// stages copy that tree onto `scratch` with the image settings of the description. `make gen`
// writes it and `make check-gen` fails when it differs, so the Dockerfile cannot drift.
import { IMAGE_NAMES, type ImageDescription } from './description.ts';

export function renderDockerfile(description: ImageDescription, tag: string): string {
  const lines = [
    '# syntax=docker/dockerfile:1',
    '# GENERATED from deploy/images/images.json by `make gen` (scripts/images/dockerfile.ts); do not edit.',
    '# The same build as `make images`: the rootfs stage runs `make image-rootfs`, the step the',
    "# Makefile's image build runs, with the same pinned Debian packages, Node and npm lockfile.",
    ...IMAGE_NAMES.map(
      (name) =>
        `#   docker build -f deploy/docker/Dockerfile --target ${name} -t ${description.images[name].name}:${tag} .`,
    ),
    '',
    `FROM debian:${description.debian.suite}-slim AS rootfs`,
    '# Tools of the build stage only: apt-get download and dpkg-deb are in the base image; npm',
    '# installs the pinned Node (scripts/ensure-node.sh) that runs the build; g++ and git build the',
    "# agent's llama.cpp thread pool module (scripts/build-native.sh).",
    'RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates make npm g++ git',
    'WORKDIR /src',
    'COPY . .',
    'RUN make image-rootfs IMAGE_ROOTFS=/rootfs',
  ];
  for (const name of IMAGE_NAMES) {
    const spec = description.images[name];
    lines.push(
      '',
      `# ${spec.description}`,
      `FROM scratch AS ${name}`,
      'COPY --from=rootfs /rootfs/base/ /',
      `COPY --from=rootfs /rootfs/${name}/ /`,
      `USER ${description.user.uid}:${description.user.gid}`,
      ...description.env.map((e) => `ENV ${e.replace('=', '="')}"`),
      `WORKDIR ${description.appDir}`,
      `LABEL org.opencontainers.image.title="${spec.name}" org.opencontainers.image.description="${spec.description}"`,
      ...(spec.ports.length > 0 ? [`EXPOSE ${spec.ports.join(' ')}`] : []),
      `ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`,
      ...(spec.cmd.length > 0 ? [`CMD ${JSON.stringify(spec.cmd)}`] : []),
    );
  }
  return `${lines.join('\n')}\n`;
}
