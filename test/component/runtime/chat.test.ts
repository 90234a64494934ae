// Prompt formats on the real small instruct model (SmolLM2-135M-Instruct): `chat` wraps the
// prompt in the model's chat template (ChatML, from the GGUF), which is what an instruct model
// answers. What the same prompt as plain `text` yields depends on the CPU's kernels (on some
// machines it ends at once, on others it rambles on), so only its token count is compared.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLlamaRuntime, type LlamaRuntime } from '../../../src/runtime/llama.js';
import { REGISTRY_MODEL, registryModelPath } from '../../../src/runtime/models/catalog.js';
import type { GenerationRequest, PromptFormat } from '../../../src/runtime/types.js';

const PROMPT = 'Write a haiku about a factory floor.';

function request(id: string, promptFormat: PromptFormat): GenerationRequest {
  return { id, prompt: PROMPT, promptFormat, maxTokens: 24, sampling: { temperature: 0 } };
}

describe('prompt formats', () => {
  let runtime: LlamaRuntime;
  beforeAll(async () => {
    runtime = await createLlamaRuntime({ threads: 2 });
    await runtime.loadModel({
      name: REGISTRY_MODEL.name,
      quantization: REGISTRY_MODEL.quantization,
      path: registryModelPath(),
      maxSequences: 2,
      contextTokens: 2 * 256,
    });
  }, 120_000);
  afterAll(async () => {
    await runtime.dispose();
  });

  it('formats a chat prompt with the model’s template, up to where the reply begins', async () => {
    const chat = runtime.promptTokens(REGISTRY_MODEL.name, PROMPT, 'chat');
    const rendered = runtime.promptText(REGISTRY_MODEL.name, PROMPT, 'chat');
    expect(rendered).toContain(`<|im_start|>user\n${PROMPT}<|im_end|>`);
    expect(rendered.endsWith('<|im_start|>assistant\n')).toBe(true);
    expect(await runtime.countPromptTokens(REGISTRY_MODEL.name, PROMPT, 'chat')).toBe(chat.length);
    expect(await runtime.countPromptTokens(REGISTRY_MODEL.name, PROMPT, 'text')).toBe(
      await runtime.countTokens(REGISTRY_MODEL.name, PROMPT),
    );
  });

  it('answers a chat prompt; the template adds tokens around the text prompt', async () => {
    const out = await runtime.generateBatch(
      REGISTRY_MODEL.name,
      [request('text', 'text'), request('chat', 'chat')],
      {},
    );
    const [text, chat] = out.results;
    expect(['stop', 'length']).toContain(text?.finishReason);
    expect(chat?.completionTokens).toBeGreaterThanOrEqual(8);
    expect(chat?.text.trim().length).toBeGreaterThan(10);
    expect(chat?.promptTokens).toBeGreaterThan(text?.promptTokens ?? Infinity);
  });

  it('rejects a text prompt that is no tokens (SmolLM2 adds no BOS)', async () => {
    expect(runtime.promptTokens(REGISTRY_MODEL.name, '')).toEqual([]);
    await expect(
      runtime.generateBatch(
        REGISTRY_MODEL.name,
        [{ id: 'empty', prompt: '', maxTokens: 4, sampling: { temperature: 0 } }],
        {},
      ),
    ).rejects.toThrow(/request empty: the prompt is no tokens/);
  });
});
