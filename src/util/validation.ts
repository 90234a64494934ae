// Validation of untyped input with zod: errors name every bad field (as a JSON path) and say what
// was expected, so the user knows what to fix.
import type { z } from 'zod';
import { UserInputError } from './user-error.js';

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

/** Parses `value` with `schema`, throwing a UserInputError naming every bad field. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new UserInputError(`invalid ${what}: ${formatIssues(result.error)}`);
  return result.data;
}
