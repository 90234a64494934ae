/**
 * Drops keys whose value is undefined. Schema parsers (zod) type optional fields as
 * `T | undefined`; with exactOptionalPropertyTypes an absent key and an undefined one differ.
 */
export function defined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
