// The agent config: the shipped example parses, relative paths resolve against the file, and
// bad configs name the offending field.
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserInputError } from '../../../src/util/user-error.js';
import { AGENT_DEFAULTS, loadAgentConfig } from '../../../src/agent/config.js';

describe('agent config', () => {
  it('parses deploy/agent/agent.example.yaml', async () => {
    const config = await loadAgentConfig('deploy/agent/agent.example.yaml');
    expect(config.listen).toBe('0.0.0.0:50051');
    expect(config.tls).toEqual({
      caFile: '/etc/edgellm/tls/ca.crt',
      certFile: '/etc/edgellm/tls/tls.crt',
      keyFile: '/etc/edgellm/tls/tls.key',
      allowedClients: [],
    });
    expect(config.models.map((m) => [m.name, m.maxSequences, m.preload])).toEqual([
      ['smollm2-135m', 16, true],
      ['tiny-llama', 8, false],
    ]);
  });

  it('accepts JSON, fills defaults and resolves relative paths', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgellm-config-'));
    try {
      const file = join(dir, 'agent.json');
      await writeFile(
        file,
        JSON.stringify({
          tls: { insecure: true },
          models: [{ name: 'm', quantization: 'F16', path: 'models/m.gguf' }],
        }),
      );
      const config = await loadAgentConfig(file);
      expect(config.listen).toBe(AGENT_DEFAULTS.listen);
      expect(config.tls).toEqual({ insecure: true });
      expect(config.models[0]?.path).toBe(join(dir, 'models/m.gguf'));
      expect(config.models[0]?.contextTokens).toBe(AGENT_DEFAULTS.contextTokens);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the bad field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgellm-config-'));
    try {
      const file = join(dir, 'agent.yaml');
      const bad = async (text: string): Promise<string> => {
        await writeFile(file, text);
        const err = await loadAgentConfig(file).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UserInputError);
        return (err as UserInputError).message;
      };
      const model = 'models: [{name: m, quantization: F16, path: m.gguf}]';
      expect(await bad(`${model}\n`)).toMatch(/tls/);
      expect(await bad(`tls: {caFile: ca.pem}\n${model}\n`)).toMatch(/tls/);
      expect(await bad(`listen: nowhere\ntls: {insecure: true}\n${model}\n`)).toMatch(
        /listen: expected host:port/,
      );
      expect(
        await bad(
          'tls: {insecure: true}\nmodels: [{name: m, quantization: F16, path: a}, {name: m, quantization: F16, path: b}]\n',
        ),
      ).toMatch(/models\[1\]\.name: duplicate model name m/);
      expect(await bad('tls: [\n')).toMatch(/not valid YAML/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
