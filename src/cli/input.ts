// Reading and validating JSON input files for CLI commands. Validation errors name the field
// (as a JSON path) and say what was expected, so the user knows what to fix.
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { CliError } from './errors.js';

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path
        .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
        .join('');
      const missing = issue.code === 'invalid_type' && issue.message.endsWith('received undefined');
      return `${path === '' ? '(root)' : path}: ${missing ? `is required (${issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')})` : issue.message}`;
    })
    .join('; ');
}

/** Parses `value` with `schema`, throwing a CliError naming every bad field. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new CliError(`invalid ${what}: ${formatIssues(result.error)}`);
  return result.data;
}

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
    throw new CliError(`cannot read ${what} from ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseWith(schema, value, what);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
