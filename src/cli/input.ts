// Reading and validating JSON input files for CLI commands (src/util/validation.ts names the bad
// fields).
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { UserInputError } from '../util/user-error.js';
import { parseWith } from '../util/validation.js';

/** Reads a JSON file (or stdin for '-') and validates it. */
export async function readJsonInput<S extends z.ZodType>(
  path: string,
  schema: S,
  what: string,
): Promise<z.output<S>> {
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  } catch (err) {
    throw new UserInputError(`cannot read ${what} from ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UserInputError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseWith(schema, value, what);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
